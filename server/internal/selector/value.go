package selector

import (
	"errors"
	"math"
	"strconv"
)

// kind is the runtime type of a value. The zero value is kindNull, which
// stands both for an absent property and for SQL's UNKNOWN truth value.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindInt
	kindFloat
	kindString
)

// value is one evaluation result. It is a plain struct, passed by value, so
// that evaluating a selector never boxes intermediate results on the heap.
type value struct {
	kind kind
	b    bool
	i    int64
	f    float64
	s    string
}

var (
	unknown = value{}
	vTrue   = value{kind: kindBool, b: true}
	vFalse  = value{kind: kindBool}
)

func boolValue(b bool) value     { return value{kind: kindBool, b: b} }
func intValue(i int64) value     { return value{kind: kindInt, i: i} }
func floatValue(f float64) value { return value{kind: kindFloat, f: f} }
func stringValue(s string) value { return value{kind: kindString, s: s} }

// fromAny converts what the caller's lookup returned. Values of types the
// selector language has no use for count as absent rather than failing the
// whole evaluation.
func fromAny(x any) value {
	switch v := x.(type) {
	case string:
		return stringValue(v)
	case int64:
		return intValue(v)
	case float64:
		return floatValue(v)
	case bool:
		return boolValue(v)
	case int:
		return intValue(int64(v))
	case int32:
		return intValue(int64(v))
	case int16:
		return intValue(int64(v))
	case int8:
		return intValue(int64(v))
	case uint8:
		return intValue(int64(v))
	case uint16:
		return intValue(int64(v))
	case uint32:
		return intValue(int64(v))
	case uint:
		return uintValue(uint64(v))
	case uint64:
		return uintValue(v)
	case float32:
		return floatValue(float64(v))
	default:
		return unknown
	}
}

func uintValue(u uint64) value {
	if u > math.MaxInt64 {
		return floatValue(float64(u))
	}
	return intValue(int64(u))
}

// float returns a number's value as float64; v must be a number.
func (v value) float() float64 {
	if v.kind == kindInt {
		return float64(v.i)
	}
	return v.f
}

// number returns v as a number: numbers as they are, strings converted by
// the STOMP rule (see the package documentation). ok is false for absent
// values, booleans and strings that are not decimal numbers.
func (v value) number() (n value, ok bool) {
	switch v.kind {
	case kindInt, kindFloat:
		return v, true
	case kindString:
		return parseNumber(v.s)
	default:
		return unknown, false
	}
}

// boolean returns v as a boolean: booleans as they are, the strings "true"
// and "false" in any case converted.
func (v value) boolean() (b bool, ok bool) {
	switch v.kind {
	case kindBool:
		return v.b, true
	case kindString:
		return parseBool(v.s)
	default:
		return false, false
	}
}

func parseBool(s string) (b bool, ok bool) {
	switch {
	case asciiEqualFold(s, "true"):
		return true, true
	case asciiEqualFold(s, "false"):
		return false, true
	default:
		return false, false
	}
}

// parseNumber converts a string holding a decimal number. It checks the
// syntax itself before calling strconv, both to refuse forms strconv would
// accept ("inf", "0x1p3", "1_0") and so that the common failure, a string
// that is not a number at all, costs no error allocation.
func parseNumber(s string) (value, bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits, integral := 0, true
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		integral = false
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return unknown, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		integral = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			exp++
		}
		if exp == 0 {
			return unknown, false
		}
	}
	if i != len(s) {
		return unknown, false
	}
	if integral {
		neg := s[0] == '-'
		digits := s
		if s[0] == '+' || s[0] == '-' {
			digits = s[1:]
		}
		if u, ok := parseUint(digits, 10); ok {
			if n, ok := signed(u, neg); ok {
				return intValue(n), true
			}
		}
		// Too big for int64: Java's Long.valueOf would fail here, but the
		// value is still a number, so compare it as a float.
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return unknown, false
	}
	// On ErrRange f is ±Inf or 0, which is what Java's Double.valueOf gives.
	return floatValue(f), true
}

// parseUint reads digits in base 8, 10 or 16 (the caller has checked that
// they are valid) and reports false when the value exceeds 1<<63, the
// largest magnitude an int64 can take (for MinInt64).
func parseUint(digits string, base uint64) (uint64, bool) {
	const limit = 1 << 63
	var u uint64
	for i := 0; i < len(digits); i++ {
		d := digitValue(digits[i])
		if d >= base || u > (limit-d)/base {
			return 0, false
		}
		u = u*base + d
	}
	return u, true
}

// signed applies a sign to a magnitude from parseUint.
func signed(u uint64, neg bool) (int64, bool) {
	if neg {
		// -(1<<63) is MinInt64; the conversion wraps to exactly that.
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

func digitValue(c byte) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case c >= 'a' && c <= 'f':
		return uint64(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return uint64(c-'A') + 10
	default:
		return 99
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// asciiEqualFold compares case-insensitively in ASCII only. strings.EqualFold
// would let "LI\u212aE" (Kelvin sign) spell LIKE.
func asciiEqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], t[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}
