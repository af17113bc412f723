package wire

// Go representations of AMQP types that have no exact Go counterpart. The
// other primitive types decode to Go's: null to nil, boolean to bool, ubyte
// .. ulong to uint8 .. uint64, byte .. long to int8 .. int64, float and
// double to float32 and float64, binary to []byte, string to string.

// Symbol is an AMQP symbol: an ASCII name from a constrained domain
// (condition names, mechanism names, capabilities).
type Symbol string

// Timestamp is an AMQP timestamp: milliseconds since the Unix epoch.
type Timestamp int64

// UUID is an AMQP uuid, in network byte order.
type UUID [16]byte

// Char is an AMQP char: one UTF-32 code point.
type Char rune

// Decimal32, Decimal64 and Decimal128 hold IEEE 754 decimal values
// undecoded: the broker only passes them through.
type (
	Decimal32  [4]byte
	Decimal64  [8]byte
	Decimal128 [16]byte
)

// List is an AMQP list: a sequence of values of any types.
type List []any

// Map is an AMQP map, kept as its entries in wire order (keys may be of any
// type, including ones Go cannot use as map keys, and order matters for
// faithful re-encoding).
type Map []MapEntry

// MapEntry is one key/value pair of a Map.
type MapEntry struct {
	Key, Value any
}

// Array is an AMQP array: values of a single type sharing one constructor.
// Encoding takes the constructor from the first element, so every element
// must have the same Go type (an empty array is written as an array of
// nulls).
type Array []any

// Described is a described type: a descriptor (normally a uint64 code or a
// Symbol name) and the value it describes.
type Described struct {
	Descriptor any
	Value      any
}
