package selector

import (
	"math"
	"testing"
)

type props map[string]any

func (p props) get(name string) (any, bool) {
	v, ok := p[name]
	return v, ok
}

// truth evaluates sel against p and names the three-valued result. It also
// checks that Matches agrees: only TRUE matches.
func truth(t *testing.T, sel string, p props) string {
	t.Helper()
	s, err := Parse(sel)
	if err != nil {
		t.Fatalf("Parse(%q): %v", sel, err)
	}
	v := s.root.eval(p.get)
	var got string
	switch {
	case v.kind == kindNull:
		got = "UNKNOWN"
	case v.kind == kindBool && v.b:
		got = "TRUE"
	case v.kind == kindBool:
		got = "FALSE"
	default:
		t.Fatalf("%q evaluated to a non-truth value %+v", sel, v)
	}
	if m := s.Matches(p.get); m != (got == "TRUE") {
		t.Errorf("%q: Matches = %v but the result is %s", sel, m, got)
	}
	return got
}

type evalCase struct {
	sel  string
	p    props
	want string
}

func runEval(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, c := range cases {
		if got := truth(t, c.sel, c.p); got != c.want {
			t.Errorf("%q with %v = %s, want %s", c.sel, c.p, got, c.want)
		}
	}
}

const (
	T = "TRUE"
	F = "FALSE"
	U = "UNKNOWN"
)

func TestEquality(t *testing.T) {
	runEval(t, []evalCase{
		{"a = 'x'", props{"a": "x"}, T},
		{"a = 'x'", props{"a": "y"}, F},
		{"a = 'x'", props{}, U},
		{"'x' = a", props{}, U},
		{"a = 'it''s'", props{"a": "it's"}, T},
		{"a = 'X'", props{"a": "x"}, F},
		{"a <> 'x'", props{"a": "y"}, T},
		{"a <> 'x'", props{"a": "x"}, F},
		{"a <> 'x'", props{}, U},
		{"a = b", props{"a": "1.0", "b": "1"}, F}, // two strings compare as text
		{"a = b", props{"a": "1", "b": int64(1)}, T},
		{"a = b", props{"a": nil, "b": nil}, U},
		{"n = 10", props{"n": int64(10)}, T},
		{"n = 10", props{"n": 10.0}, T},
		{"n = 10.0", props{"n": int64(10)}, T},
		{"n = 10", props{"n": int64(11)}, F},
		{"n = -9223372036854775808", props{"n": int64(math.MinInt64)}, T},
		{"n = 9223372036854775807", props{"n": int64(math.MaxInt64)}, T},
	})
}

func TestNumericLiterals(t *testing.T) {
	ten := props{"n": int64(10)}
	runEval(t, []evalCase{
		{"n = 10L", ten, T},
		{"n = 10l", ten, T},
		{"n = 0xA", ten, T},
		{"n = 0X0a", ten, T},
		{"n = 012", ten, T}, // octal, as in ActiveMQ
		{"n = 1e1", ten, T},
		{"n = 1E+1", ten, T},
		{"n = 100e-1", ten, T},
		{"n = 10.", ten, T},
		{"n = 10.0", ten, T},
		{"n = .5", props{"n": 0.5}, T},
		{"n = 0", props{"n": int64(0)}, T},
		{"n = 0.0", props{"n": int64(0)}, T},
		{"n = 08.5", props{"n": 8.5}, T},
		{"n = 1.5e0", props{"n": float32(1.5)}, T},
	})
}

// STOMP delivers user headers as strings, so strings convert to numbers
// against numeric operands.
func TestStringConversion(t *testing.T) {
	runEval(t, []evalCase{
		{"n = 10", props{"n": "10"}, T},
		{"n = 10", props{"n": "+10"}, T},
		{"n = 10", props{"n": "10.0"}, T},
		{"n = 10", props{"n": "1e1"}, T},
		{"n = -10", props{"n": "-10"}, T},
		{"n = 10", props{"n": "ten"}, F},
		{"n = 10", props{"n": " 10"}, F},
		{"n = 10", props{"n": "0xA"}, F},
		{"n = 10", props{"n": "1_0"}, F},
		{"n = 10", props{"n": "inf"}, F},
		{"n = 10", props{"n": ""}, F},
		{"n = 10", props{"n": "1e"}, F},
		{"n = 10", props{"n": "."}, F},
		{"n <> 10", props{"n": "ten"}, T},
		{"n > 5", props{"n": "6"}, T},
		{"n > 5", props{"n": "5.5"}, T},
		{"n > 5", props{"n": "4"}, F},
		{"n > 5", props{"n": "abc"}, F},
		{"n > 0", props{"n": "9223372036854775808"}, T}, // beyond int64: a float
		{"n > 0", props{"n": "1e999"}, T},               // +Inf, as Java's Double.valueOf
		{"n BETWEEN 1 AND 5", props{"n": "3"}, T},
		{"a < b", props{"a": "7", "b": "10"}, T}, // numerically, not "7" > "10"
		{"a < b", props{"a": "x", "b": "y"}, F},
		{"n * 2 = 20", props{"n": "10"}, T},
		{"n + 1 = 2", props{"n": "x"}, U},
		{"-n = -3", props{"n": "3"}, T},
		{"+n = 3", props{"n": "3"}, T},
		{"+n = 3", props{"n": "x"}, U},
		{"f = TRUE", props{"f": "true"}, T},
		{"f = TRUE", props{"f": "TRUE"}, T},
		{"f = FALSE", props{"f": "False"}, T},
		{"f = TRUE", props{"f": "yes"}, F},
		{"f = TRUE", props{"f": "false"}, F},
		{"TRUE = f", props{"f": "true"}, T},
		{"f", props{"f": "true"}, T},
		{"f", props{"f": "tRuE"}, T},
		{"f", props{"f": "false"}, F},
		{"f", props{"f": "1"}, F},
	})
}

func TestTypeMismatch(t *testing.T) {
	runEval(t, []evalCase{
		{"a = 1", props{"a": true}, F},
		{"a <> 1", props{"a": true}, T},
		{"a > 1", props{"a": true}, F},
		{"a = TRUE", props{"a": int64(1)}, F},
		{"a = 'x'", props{"a": int64(1)}, F},
		{"a", props{"a": int64(1)}, F},
		{"NOT a", props{"a": int64(1)}, T},
		{"a + 1 = 2", props{"a": true}, U},
		{"-a = 1", props{"a": false}, U},
		// Values of types the language lacks count as absent.
		{"a IS NULL", props{"a": []byte("x")}, T},
		{"a = 'x'", props{"a": []byte("x")}, U},
		{"a IS NULL", props{"a": nil}, T},
	})
}

func TestWidenedTypes(t *testing.T) {
	runEval(t, []evalCase{
		{"n = 5", props{"n": 5}, T},
		{"n = 5", props{"n": int32(5)}, T},
		{"n = 5", props{"n": int16(5)}, T},
		{"n = 5", props{"n": int8(5)}, T},
		{"n = 5", props{"n": uint8(5)}, T},
		{"n = 5", props{"n": uint16(5)}, T},
		{"n = 5", props{"n": uint32(5)}, T},
		{"n = 5", props{"n": uint(5)}, T},
		{"n = 5", props{"n": uint64(5)}, T},
		{"n > 9223372036854775807", props{"n": uint64(math.MaxUint64)}, T},
		{"n = 0.5", props{"n": float32(0.5)}, T},
	})
}

func TestOrdering(t *testing.T) {
	runEval(t, []evalCase{
		{"n > 5", props{"n": int64(6)}, T},
		{"n > 5", props{"n": int64(5)}, F},
		{"n >= 5", props{"n": int64(5)}, T},
		{"n >= 5", props{"n": int64(4)}, F},
		{"n < 5", props{"n": int64(4)}, T},
		{"n < 5", props{"n": int64(5)}, F},
		{"n <= 5", props{"n": int64(5)}, T},
		{"n <= 5", props{"n": int64(6)}, F},
		{"n < 5.5", props{"n": int64(5)}, T},
		{"n > 5", props{"n": 5.5}, T},
		{"n > 5", props{}, U},
		{"5 < n", props{}, U},
		{"n > -1", props{"n": int64(0)}, T},
		{"n < 9223372036854775807", props{"n": int64(math.MinInt64)}, T},
		{"1 < 2", nil, T},
		{"2.5 >= 2.5", nil, T},
	})
}

func TestArithmetic(t *testing.T) {
	p := props{"a": int64(7), "b": int64(2), "c": int64(3), "z": int64(0), "f": 1.5}
	runEval(t, []evalCase{
		{"a + b = 9", p, T},
		{"a - b = 5", p, T},
		{"a * b = 14", p, T},
		{"a / b = 3.5", p, T}, // ActiveMQ divides in floating point
		{"a % b = 1", p, T},
		{"-a % b = -1", p, T}, // the sign follows the dividend, as in Java
		{"a + f = 8.5", p, T},
		{"a * f = 10.5", p, T},
		{"a / z > 1000000", p, T}, // +Inf
		{"z / z = z / z", p, F},   // NaN equals nothing
		{"z / z <> 0", p, T},
		{"z / z > 0", p, F},
		{"z / z < 0", p, F},
		{"-a = -7", p, T},
		{"- -a = 7", p, T},
		{"-f = -1.5", p, T},
		{"a + missing = 1", p, U},
		{"missing * 2 = 1", p, U},
		{"-missing = 1", p, U},
		{"a + 9223372036854775807 < 0", p, T}, // wraps, like Java's long
		{"a + 1 = 8.0", p, T},
	})
}

func TestPrecedence(t *testing.T) {
	p := props{"a": int64(1), "b": int64(2), "c": int64(3), "t": true, "f": false}
	runEval(t, []evalCase{
		{"a + b * c = 7", p, T},
		{"(a + b) * c = 9", p, T},
		{"a - b - c = -4", p, T}, // left-associative
		{"a - (b - c) = 2", p, T},
		{"c / b / b = 0.75", p, T},
		{"-b * c = -6", p, T},
		{"a + b > c - 1", p, T},
		{"a = 1 OR a = 2 AND a = 3", p, T}, // AND binds tighter than OR
		{"(a = 1 OR a = 2) AND a = 3", p, F},
		{"NOT a = 2", p, T}, // NOT (a = 2), not (NOT a) = 2
		{"NOT a = 1 AND b = 2", p, F},
		{"NOT a = 2 AND b = 2", p, T},
		{"NOT (a = 1 AND b = 3)", p, T},
		{"NOT t OR t", p, T},
		{"NOT (t OR t)", p, F},
		{"f OR t AND f", p, F},
		{"a < b = TRUE", p, T}, // < binds tighter than =
		{"a = 1 = TRUE", p, T},
		{"a IS NULL = FALSE", p, T},
		{"a + 1 BETWEEN b AND c", p, T},
	})
}

func TestThreeValuedLogic(t *testing.T) {
	p := props{"t": true, "f": false} // u is absent: UNKNOWN
	runEval(t, []evalCase{
		{"t AND t", p, T}, {"t AND f", p, F}, {"t AND u", p, U},
		{"f AND t", p, F}, {"f AND f", p, F}, {"f AND u", p, F},
		{"u AND t", p, U}, {"u AND f", p, F}, {"u AND u", p, U},
		{"t OR t", p, T}, {"t OR f", p, T}, {"t OR u", p, T},
		{"f OR t", p, T}, {"f OR f", p, F}, {"f OR u", p, U},
		{"u OR t", p, T}, {"u OR f", p, U}, {"u OR u", p, U},
		{"NOT t", p, F}, {"NOT f", p, T}, {"NOT u", p, U},
		{"NOT NOT u", p, U},
		{"x = 1", p, U}, {"NOT x = 1", p, U}, {"x <> 1", p, U},
		{"x = 1 OR TRUE", p, T}, {"x = 1 AND FALSE", p, F},
		{"TRUE", p, T}, {"FALSE", p, F}, {"NOT FALSE", p, T},
	})
}

func TestIsNull(t *testing.T) {
	runEval(t, []evalCase{
		{"a IS NULL", props{}, T},
		{"a IS NULL", props{"a": ""}, F},
		{"a IS NOT NULL", props{}, F},
		{"a IS NOT NULL", props{"a": int64(0)}, T},
		{"a + 1 IS NULL", props{}, T},
		{"a + 1 IS NULL", props{"a": "x"}, T}, // arithmetic on a non-number is UNKNOWN
		{"a + 1 IS NOT NULL", props{"a": "1"}, T},
		{"(a = 1) IS NULL", props{}, T},
		{"a is not null", props{"a": "x"}, T},
	})
}

func TestIn(t *testing.T) {
	long := "c IN ('a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9', 'it''s')"
	runEval(t, []evalCase{
		{"c IN ('red', 'green')", props{"c": "red"}, T},
		{"c IN ('red', 'green')", props{"c": "green"}, T},
		{"c IN ('red', 'green')", props{"c": "blue"}, F},
		{"c IN ('red', 'green')", props{"c": "RED"}, F},
		{"c IN ('red', 'green')", props{}, U},
		{"c IN ('1')", props{"c": int64(1)}, U}, // IN is for strings, as in ActiveMQ
		{"c NOT IN ('red', 'green')", props{"c": "blue"}, T},
		{"c NOT IN ('red', 'green')", props{"c": "red"}, F},
		{"c NOT IN ('red', 'green')", props{}, U},
		{"c in ('x')", props{"c": "x"}, T},
		{"c IN ('')", props{"c": ""}, T},
		{long, props{"c": "a9"}, T},
		{long, props{"c": "it's"}, T},
		{long, props{"c": "a10"}, F},
		{long, props{}, U},
	})
}

func TestLike(t *testing.T) {
	runEval(t, []evalCase{
		{"a LIKE 'ab%'", props{"a": "abc"}, T},
		{"a LIKE 'ab%'", props{"a": "ab"}, T},
		{"a LIKE 'ab%'", props{"a": "xab"}, F},
		{"a LIKE '%ab'", props{"a": "xab"}, T},
		{"a LIKE '%ab%'", props{"a": "xxabxx"}, T},
		{"a LIKE 'a_c'", props{"a": "abc"}, T},
		{"a LIKE 'a_c'", props{"a": "aéc"}, T}, // _ is one character, not one byte
		{"a LIKE 'a_c'", props{"a": "ac"}, F},
		{"a LIKE 'a_c'", props{"a": "abbc"}, F},
		{"a LIKE 'AB%'", props{"a": "abc"}, F}, // case-sensitive
		{"a LIKE '%'", props{"a": ""}, T},
		{"a LIKE ''", props{"a": ""}, T},
		{"a LIKE ''", props{"a": "x"}, F},
		{"a LIKE 'a.c'", props{"a": "abc"}, F}, // regexp characters are literal
		{"a LIKE '100\\%' ESCAPE '\\'", props{"a": "100%"}, T},
		{"a LIKE '100\\%' ESCAPE '\\'", props{"a": "1000"}, F},
		{"a LIKE 'x!_y' ESCAPE '!'", props{"a": "x_y"}, T},
		{"a LIKE 'x!_y' ESCAPE '!'", props{"a": "xzy"}, F},
		{"a LIKE 'x!!y' ESCAPE '!'", props{"a": "x!y"}, T},
		{"a LIKE 'x!y' ESCAPE '!'", props{"a": "x!y"}, T}, // escape before an ordinary char is itself
		{"a LIKE 'x!' ESCAPE '!'", props{"a": "x!"}, T},
		{"a LIKE 'ab%'", props{}, U},
		{"a LIKE 'ab%'", props{"a": int64(5)}, F}, // non-strings do not match, as in ActiveMQ
		{"a NOT LIKE 'ab%'", props{"a": int64(5)}, T},
		{"a NOT LIKE 'ab%'", props{"a": "abc"}, F},
		{"a NOT LIKE 'ab%'", props{"a": "xyz"}, T},
		{"a NOT LIKE 'ab%'", props{}, U},
		{"a like 'x%' escape '\\'", props{"a": "xy"}, T},
	})
}

func TestBetween(t *testing.T) {
	runEval(t, []evalCase{
		{"n BETWEEN 1 AND 5", props{"n": int64(1)}, T},
		{"n BETWEEN 1 AND 5", props{"n": int64(5)}, T},
		{"n BETWEEN 1 AND 5", props{"n": 2.5}, T},
		{"n BETWEEN 1 AND 5", props{"n": int64(0)}, F},
		{"n BETWEEN 1 AND 5", props{"n": int64(6)}, F},
		{"n BETWEEN 1 AND 5", props{"n": "x"}, F},
		{"n BETWEEN 1 AND 5", props{}, U},
		{"n NOT BETWEEN 1 AND 5", props{"n": int64(0)}, T},
		{"n NOT BETWEEN 1 AND 5", props{"n": int64(3)}, F},
		{"n NOT BETWEEN 1 AND 5", props{}, U},
		{"n NOT BETWEEN 1 AND 5", props{"n": "x"}, T},
		{"n BETWEEN lo AND hi", props{"n": int64(3), "lo": int64(1)}, U},
		{"n BETWEEN lo AND hi", props{"n": int64(0), "lo": int64(1)}, F},
		{"n BETWEEN lo AND hi", props{"n": int64(9), "hi": int64(5)}, F},
		{"n BETWEEN -1 AND 1 + 1", props{"n": int64(2)}, T},
		{"n between 1 and 5 and n = 3", props{"n": int64(3)}, T},
	})
}

func TestHeadersAndSyntaxDetails(t *testing.T) {
	msg := props{
		"JMSPriority":     int64(7),
		"JMSDeliveryMode": "PERSISTENT",
		"JMSXGroupSeq":    int64(-1),
		"region":          "eu-west",
		"$weird_Name1":    "ok",
		"größe":           "L",
	}
	runEval(t, []evalCase{
		{"JMSPriority > 4 AND JMSDeliveryMode = 'PERSISTENT'", msg, T},
		{"JMSXGroupSeq = -1", msg, T},
		{"jmspriority > 4", msg, U}, // identifiers are case-sensitive
		{"$weird_Name1 = 'ok'", msg, T},
		{"größe = 'L'", msg, T},
		{"region LIKE 'eu-%' -- trailing comment", msg, T},
		{"region /* inline */ LIKE 'eu-%'", msg, T},
		{"region LIKE 'eu-%' -- comment\r\nAND JMSPriority = 7", msg, T},
		{"  JMSPriority\t=\n7\f", msg, T},
		{"((JMSPriority = 7))", msg, T},
	})
}

func TestEmptySelectorMatchesAll(t *testing.T) {
	for _, s := range []string{"", "   ", "\t\r\n\f", "-- only a comment", "/* */"} {
		sel, err := Parse(s)
		if err != nil || sel != nil {
			t.Fatalf("Parse(%q) = %v, %v; want nil, nil", s, sel, err)
		}
		if !sel.Matches(props{}.get) {
			t.Errorf("nil selector from %q does not match", s)
		}
		if sel.String() != "" {
			t.Errorf("nil selector String() = %q", sel.String())
		}
	}
}

func TestNilGetter(t *testing.T) {
	sel, err := Parse("a IS NULL")
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(nil) {
		t.Error("with a nil getter every property should be absent")
	}
}
