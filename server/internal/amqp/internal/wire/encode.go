package wire

import (
	"encoding/binary"
	"fmt"
	"math"
)

// AppendValue appends the AMQP encoding of v, which must be one of the
// types Decode produces (or int, []any or []Symbol, for convenience). It
// panics on any other type: that is a programming error, never input.
func AppendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, codeNull)
	case bool:
		if v {
			return append(b, codeTrue)
		}
		return append(b, codeFalse)
	case uint8:
		return append(b, codeUbyte, v)
	case uint16:
		return binary.BigEndian.AppendUint16(append(b, codeUshort), v)
	case uint32:
		return AppendUint(b, v)
	case uint64:
		return AppendUlong(b, v)
	case int8:
		return append(b, codeByte, byte(v))
	case int16:
		return binary.BigEndian.AppendUint16(append(b, codeShort), uint16(v))
	case int32:
		if v >= math.MinInt8 && v <= math.MaxInt8 {
			return append(b, codeSmallInt, byte(v))
		}
		return binary.BigEndian.AppendUint32(append(b, codeInt), uint32(v))
	case int64:
		return appendLong(b, v)
	case int:
		return appendLong(b, int64(v))
	case float32:
		return binary.BigEndian.AppendUint32(append(b, codeFloat), math.Float32bits(v))
	case float64:
		return binary.BigEndian.AppendUint64(append(b, codeDouble), math.Float64bits(v))
	case Decimal32:
		return append(append(b, codeDecimal32), v[:]...)
	case Decimal64:
		return append(append(b, codeDecimal64), v[:]...)
	case Decimal128:
		return append(append(b, codeDecimal128), v[:]...)
	case Char:
		return binary.BigEndian.AppendUint32(append(b, codeChar), uint32(v))
	case Timestamp:
		return binary.BigEndian.AppendUint64(append(b, codeTimestamp), uint64(v))
	case UUID:
		return append(append(b, codeUUID), v[:]...)
	case []byte:
		return AppendBinary(b, v)
	case string:
		return AppendString(b, v)
	case Symbol:
		return AppendSymbol(b, v)
	case List:
		return appendList(b, v)
	case []any:
		return appendList(b, v)
	case Map:
		return appendMap(b, v)
	case Array:
		return appendArray(b, v)
	case []Symbol:
		return AppendSymbolArray(b, v)
	case Described:
		b = AppendValue(append(b, codeDescribed), v.Descriptor)
		return AppendValue(b, v.Value)
	}
	panic(fmt.Sprintf("wire: cannot encode a %T", v))
}

// AppendUint appends a uint in its smallest form.
func AppendUint(b []byte, v uint32) []byte {
	switch {
	case v == 0:
		return append(b, codeUint0)
	case v < 256:
		return append(b, codeSmallUint, byte(v))
	}
	return binary.BigEndian.AppendUint32(append(b, codeUint), v)
}

// AppendUlong appends a ulong in its smallest form.
func AppendUlong(b []byte, v uint64) []byte {
	switch {
	case v == 0:
		return append(b, codeUlong0)
	case v < 256:
		return append(b, codeSmallUlong, byte(v))
	}
	return binary.BigEndian.AppendUint64(append(b, codeUlong), v)
}

func appendLong(b []byte, v int64) []byte {
	if v >= math.MinInt8 && v <= math.MaxInt8 {
		return append(b, codeSmallLong, byte(v))
	}
	return binary.BigEndian.AppendUint64(append(b, codeLong), uint64(v))
}

// AppendBinary appends a binary value.
func AppendBinary(b, v []byte) []byte {
	return append(appendVarHeader(b, codeVbin8, codeVbin32, len(v)), v...)
}

// AppendString appends a UTF-8 string.
func AppendString(b []byte, v string) []byte {
	return append(appendVarHeader(b, codeStr8, codeStr32, len(v)), v...)
}

// AppendSymbol appends a symbol.
func AppendSymbol(b []byte, v Symbol) []byte {
	return append(appendVarHeader(b, codeSym8, codeSym32, len(v)), v...)
}

func appendVarHeader(b []byte, short, long byte, n int) []byte {
	if n < 256 {
		return append(b, short, byte(n))
	}
	return binary.BigEndian.AppendUint32(append(b, long), uint32(n))
}

// AppendSymbolArray appends an array of symbols (the form of multiple
// symbol fields such as capabilities and SASL mechanisms).
func AppendSymbolArray(b []byte, v []Symbol) []byte {
	a := make(Array, len(v))
	for i, s := range v {
		a[i] = s
	}
	return appendArray(b, a)
}

// compound writes composite values: the caller appends the elements after
// begin and end fixes the size and count, compacting to the one-byte form
// when both fit.
type compound struct {
	start int // index of the format code
}

func beginCompound(b []byte, wideCode byte) ([]byte, compound) {
	c := compound{start: len(b)}
	return append(b, wideCode, 0, 0, 0, 0, 0, 0, 0, 0), c
}

// end finishes a compound begun with a 32-bit code. shortCode is the
// one-byte-length code (0 to keep the wide form, as arrays of arrays need).
func (c compound) end(b []byte, shortCode byte, count int) []byte {
	body := len(b) - c.start - 9
	if shortCode != 0 && body+1 < 256 && count < 256 {
		b[c.start] = shortCode
		b[c.start+1] = byte(body + 1)
		b[c.start+2] = byte(count)
		copy(b[c.start+3:], b[c.start+9:])
		return b[:len(b)-6]
	}
	binary.BigEndian.PutUint32(b[c.start+1:], uint32(body+4))
	binary.BigEndian.PutUint32(b[c.start+5:], uint32(count))
	return b
}

func appendList(b []byte, l []any) []byte {
	if len(l) == 0 {
		return append(b, codeList0)
	}
	b, c := beginCompound(b, codeList32)
	for _, v := range l {
		b = AppendValue(b, v)
	}
	return c.end(b, codeList8, len(l))
}

func appendMap(b []byte, m Map) []byte {
	b, c := beginCompound(b, codeMap32)
	for _, e := range m {
		b = AppendValue(b, e.Key)
		b = AppendValue(b, e.Value)
	}
	return c.end(b, codeMap8, 2*len(m))
}

// appendArray writes every element in the fixed-width form of the first
// element's type, which is always valid (the compact forms such as
// smalluint would be too, but they cannot hold every value).
func appendArray(b []byte, a Array) []byte {
	b, c := beginCompound(b, codeArray32)
	var first any
	if len(a) > 0 {
		first = a[0]
	}
	b = appendArrayConstructor(b, first)
	for _, v := range a {
		b = appendArrayElement(b, first, v)
	}
	return c.end(b, codeArray8, len(a))
}

func appendArrayConstructor(b []byte, v any) []byte {
	if d, ok := v.(Described); ok {
		b = AppendValue(append(b, codeDescribed), d.Descriptor)
		v = d.Value
	}
	return append(b, wideCode(v))
}

// appendArrayElement appends v without its constructor. first fixes the
// element type; an element of another type is a programming error.
func appendArrayElement(b []byte, first, v any) []byte {
	if fd, ok := first.(Described); ok {
		d, ok := v.(Described)
		if !ok {
			panic(fmt.Sprintf("wire: array of described values holds a %T", v))
		}
		first, v = fd.Value, d.Value
	}
	if wideCode(v) != wideCode(first) {
		panic(fmt.Sprintf("wire: array of %T holds a %T", first, v))
	}
	enc := appendWide(nil, v)
	return append(b, enc[1:]...)
}

// wideCode is the format code appendWide uses for v's type.
func wideCode(v any) byte {
	return appendWide(make([]byte, 0, 16), zeroOf(v))[0]
}

// zeroOf returns a small value of v's type, so that wideCode does not
// encode large values just to learn their format code.
func zeroOf(v any) any {
	switch v.(type) {
	case []byte:
		return []byte(nil)
	case string:
		return ""
	case Symbol:
		return Symbol("")
	case List, []any:
		return List{}
	case Map:
		return Map{}
	case Array:
		return Array{}
	}
	return v
}

// appendWide encodes v with its fixed-width or 32-bit-length format code.
func appendWide(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, codeNull)
	case bool:
		if v {
			return append(b, codeBool, 1)
		}
		return append(b, codeBool, 0)
	case uint32:
		return binary.BigEndian.AppendUint32(append(b, codeUint), v)
	case uint64:
		return binary.BigEndian.AppendUint64(append(b, codeUlong), v)
	case int32:
		return binary.BigEndian.AppendUint32(append(b, codeInt), uint32(v))
	case int64:
		return binary.BigEndian.AppendUint64(append(b, codeLong), uint64(v))
	case int:
		return binary.BigEndian.AppendUint64(append(b, codeLong), uint64(v))
	case []byte:
		return append(binary.BigEndian.AppendUint32(append(b, codeVbin32), uint32(len(v))), v...)
	case string:
		return append(binary.BigEndian.AppendUint32(append(b, codeStr32), uint32(len(v))), v...)
	case Symbol:
		return append(binary.BigEndian.AppendUint32(append(b, codeSym32), uint32(len(v))), v...)
	case List, []any:
		var l []any
		switch v := v.(type) {
		case List:
			l = v
		case []any:
			l = v
		}
		b, c := beginCompound(b, codeList32)
		for _, e := range l {
			b = AppendValue(b, e)
		}
		return c.end(b, 0, len(l))
	case Map:
		b, c := beginCompound(b, codeMap32)
		for _, e := range v {
			b = AppendValue(AppendValue(b, e.Key), e.Value)
		}
		return c.end(b, 0, 2*len(v))
	case Array:
		b, c := beginCompound(b, codeArray32)
		var first any
		if len(v) > 0 {
			first = v[0]
		}
		b = appendArrayConstructor(b, first)
		for _, e := range v {
			b = appendArrayElement(b, first, e)
		}
		return c.end(b, 0, len(v))
	case Described:
		panic("wire: a described value cannot be an array element body")
	}
	// The remaining types have a single, fixed-width encoding.
	return AppendValue(b, v)
}
