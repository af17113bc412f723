package wire

import (
	"encoding/binary"
	"math"
)

// MaxDepth bounds how deeply composite values (lists, maps, arrays,
// described values) may nest, so that hostile input cannot exhaust the
// stack.
const MaxDepth = 32

// Format codes of the AMQP type system (part 1, section 1.6).
const (
	codeDescribed  = 0x00
	codeNull       = 0x40
	codeTrue       = 0x41
	codeFalse      = 0x42
	codeUint0      = 0x43
	codeUlong0     = 0x44
	codeList0      = 0x45
	codeBool       = 0x56
	codeUbyte      = 0x50
	codeByte       = 0x51
	codeSmallUint  = 0x52
	codeSmallUlong = 0x53
	codeSmallInt   = 0x54
	codeSmallLong  = 0x55
	codeUshort     = 0x60
	codeShort      = 0x61
	codeUint       = 0x70
	codeInt        = 0x71
	codeFloat      = 0x72
	codeChar       = 0x73
	codeDecimal32  = 0x74
	codeUlong      = 0x80
	codeLong       = 0x81
	codeDouble     = 0x82
	codeTimestamp  = 0x83
	codeDecimal64  = 0x84
	codeDecimal128 = 0x94
	codeUUID       = 0x98
	codeVbin8      = 0xa0
	codeStr8       = 0xa1
	codeSym8       = 0xa3
	codeVbin32     = 0xb0
	codeStr32      = 0xb1
	codeSym32      = 0xb3
	codeList8      = 0xc0
	codeMap8       = 0xc1
	codeList32     = 0xd0
	codeMap32      = 0xd1
	codeArray8     = 0xe0
	codeArray32    = 0xf0
)

// Decode decodes the single AMQP value at the start of b and reports how
// many bytes it used. Binary values alias b.
func Decode(b []byte) (v any, n int, err error) {
	return decodeBudget(b, len(b))
}

// decodeBudget is Decode with an explicit value budget.
func decodeBudget(b []byte, budget int) (v any, n int, err error) {
	d := decoder{b: b, budget: budget}
	v, err = d.value(0)
	if err != nil {
		return nil, 0, err
	}
	return v, d.off, nil
}

// decoder reads values from b. budget counts the values it may still
// produce: one per byte of input, so zero-width array elements cannot
// multiply allocations beyond the input size.
type decoder struct {
	b      []byte
	off    int
	budget int
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) need(n int, what string) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, decodeErr(what, "needs %d bytes, %d left", n, d.remaining())
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

func (d *decoder) byte1(what string) (byte, error) {
	p, err := d.need(1, what)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

func (d *decoder) spend(what string) error {
	d.budget--
	if d.budget < 0 {
		return decodeErr(what, "more values than input bytes")
	}
	return nil
}

// value decodes one constructor and its data.
func (d *decoder) value(depth int) (any, error) {
	if err := d.spend("value"); err != nil {
		return nil, err
	}
	code, err := d.byte1("constructor")
	if err != nil {
		return nil, err
	}
	if code != codeDescribed {
		return d.primitive(code, depth)
	}
	if depth >= MaxDepth {
		return nil, decodeErr("described value", "nested deeper than %d", MaxDepth)
	}
	desc, err := d.value(depth + 1)
	if err != nil {
		return nil, err
	}
	v, err := d.value(depth + 1)
	if err != nil {
		return nil, err
	}
	return Described{Descriptor: desc, Value: v}, nil
}

// primitive decodes the data of a value whose format code is code.
func (d *decoder) primitive(code byte, depth int) (any, error) {
	switch code {
	case codeNull:
		return nil, nil
	case codeTrue:
		return true, nil
	case codeFalse:
		return false, nil
	case codeBool:
		c, err := d.byte1("boolean")
		if err != nil {
			return nil, err
		}
		if c > 1 {
			return nil, decodeErr("boolean", "invalid value %#x", c)
		}
		return c == 1, nil
	case codeUbyte:
		c, err := d.byte1("ubyte")
		return c, err
	case codeByte:
		c, err := d.byte1("byte")
		return int8(c), err
	case codeUint0:
		return uint32(0), nil
	case codeSmallUint:
		c, err := d.byte1("smalluint")
		return uint32(c), err
	case codeUlong0:
		return uint64(0), nil
	case codeSmallUlong:
		c, err := d.byte1("smallulong")
		return uint64(c), err
	case codeSmallInt:
		c, err := d.byte1("smallint")
		return int32(int8(c)), err
	case codeSmallLong:
		c, err := d.byte1("smalllong")
		return int64(int8(c)), err
	case codeUshort, codeShort:
		p, err := d.need(2, "short")
		if err != nil {
			return nil, err
		}
		u := binary.BigEndian.Uint16(p)
		if code == codeShort {
			return int16(u), nil
		}
		return u, nil
	case codeUint, codeInt, codeFloat, codeChar, codeDecimal32:
		p, err := d.need(4, "4-byte value")
		if err != nil {
			return nil, err
		}
		u := binary.BigEndian.Uint32(p)
		switch code {
		case codeUint:
			return u, nil
		case codeInt:
			return int32(u), nil
		case codeFloat:
			return math.Float32frombits(u), nil
		case codeChar:
			return Char(u), nil
		}
		return Decimal32(p), nil
	case codeUlong, codeLong, codeDouble, codeTimestamp, codeDecimal64:
		p, err := d.need(8, "8-byte value")
		if err != nil {
			return nil, err
		}
		u := binary.BigEndian.Uint64(p)
		switch code {
		case codeUlong:
			return u, nil
		case codeLong:
			return int64(u), nil
		case codeDouble:
			return math.Float64frombits(u), nil
		case codeTimestamp:
			return Timestamp(u), nil
		}
		return Decimal64(p), nil
	case codeDecimal128, codeUUID:
		p, err := d.need(16, "16-byte value")
		if err != nil {
			return nil, err
		}
		if code == codeUUID {
			return UUID(p), nil
		}
		return Decimal128(p), nil
	case codeVbin8, codeStr8, codeSym8, codeVbin32, codeStr32, codeSym32:
		return d.variable(code)
	case codeList0:
		return List{}, nil
	case codeList8, codeList32, codeMap8, codeMap32:
		return d.compound(code, depth)
	case codeArray8, codeArray32:
		return d.array(code, depth)
	}
	return nil, decodeErr("constructor", "unknown format code %#x", code)
}

// length reads a one- or four-byte length or count.
func (d *decoder) length(wide bool, what string) (int, error) {
	if !wide {
		c, err := d.byte1(what)
		return int(c), err
	}
	p, err := d.need(4, what)
	if err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(p)
	if uint64(n) > uint64(d.remaining()) {
		return 0, decodeErr(what, "length %d exceeds the %d bytes left", n, d.remaining())
	}
	return int(n), nil
}

func (d *decoder) variable(code byte) (any, error) {
	wide := code&0xf0 == 0xb0
	n, err := d.length(wide, "variable-width length")
	if err != nil {
		return nil, err
	}
	p, err := d.need(n, "variable-width value")
	if err != nil {
		return nil, err
	}
	switch code {
	case codeVbin8, codeVbin32:
		return p, nil
	case codeStr8, codeStr32:
		return string(p), nil
	}
	return Symbol(p), nil
}

// compound decodes a list or a map: size, count, then count values that
// must use exactly size bytes (counted from after the size field).
func (d *decoder) compound(code byte, depth int) (any, error) {
	isMap := code == codeMap8 || code == codeMap32
	what := "list"
	if isMap {
		what = "map"
	}
	if depth >= MaxDepth {
		return nil, decodeErr(what, "nested deeper than %d", MaxDepth)
	}
	wide := code == codeList32 || code == codeMap32
	size, err := d.length(wide, what+" size")
	if err != nil {
		return nil, err
	}
	if size > d.remaining() {
		return nil, decodeErr(what, "size %d exceeds the %d bytes left", size, d.remaining())
	}
	end := d.off + size
	count, err := d.length(wide, what+" count")
	if err != nil {
		return nil, err
	}
	// Every element takes at least one byte, so a count larger than the
	// bytes left is a lie: reject it before allocating.
	if count > end-d.off {
		return nil, decodeErr(what, "count %d exceeds its %d bytes", count, end-d.off)
	}
	if isMap && count%2 != 0 {
		return nil, decodeErr(what, "odd element count %d", count)
	}
	sub := decoder{b: d.b[:end], off: d.off, budget: d.budget}
	var out any
	if isMap {
		m := make(Map, 0, count/2)
		for range count / 2 {
			k, err := sub.value(depth + 1)
			if err != nil {
				return nil, err
			}
			v, err := sub.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m = append(m, MapEntry{Key: k, Value: v})
		}
		out = m
	} else {
		l := make(List, 0, count)
		for range count {
			v, err := sub.value(depth + 1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		out = l
	}
	if sub.off != end {
		return nil, decodeErr(what, "size %d but elements use %d bytes", size, sub.off-(end-size))
	}
	d.off, d.budget = end, sub.budget
	return out, nil
}

// array decodes an array: size, count, one element constructor (possibly
// described), then count bodies of that constructor.
func (d *decoder) array(code byte, depth int) (any, error) {
	if depth >= MaxDepth {
		return nil, decodeErr("array", "nested deeper than %d", MaxDepth)
	}
	wide := code == codeArray32
	size, err := d.length(wide, "array size")
	if err != nil {
		return nil, err
	}
	if size > d.remaining() {
		return nil, decodeErr("array", "size %d exceeds the %d bytes left", size, d.remaining())
	}
	end := d.off + size
	count, err := d.length(wide, "array count")
	if err != nil {
		return nil, err
	}
	sub := decoder{b: d.b[:end], off: d.off, budget: d.budget}
	elem, err := sub.byte1("array constructor")
	if err != nil {
		return nil, err
	}
	var desc any
	described := elem == codeDescribed
	if described {
		if desc, err = sub.value(depth + 1); err != nil {
			return nil, err
		}
		if elem, err = sub.byte1("array constructor"); err != nil {
			return nil, err
		}
		if elem == codeDescribed {
			return nil, decodeErr("array", "doubly described element constructor")
		}
	}
	// Elements may be zero-width (an array of nulls), so the byte count does
	// not bound them; the value budget does.
	if count > sub.budget {
		return nil, decodeErr("array", "count %d exceeds the input", count)
	}
	a := make(Array, 0, min(count, end-sub.off+1))
	for range count {
		if err := sub.spend("array element"); err != nil {
			return nil, err
		}
		v, err := sub.primitive(elem, depth+1)
		if err != nil {
			return nil, err
		}
		if described {
			v = Described{Descriptor: desc, Value: v}
		}
		a = append(a, v)
	}
	if sub.off != end {
		return nil, decodeErr("array", "size %d but elements use %d bytes", size, sub.off-(end-size))
	}
	d.off, d.budget = end, sub.budget
	return a, nil
}
