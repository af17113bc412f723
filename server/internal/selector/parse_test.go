package selector

import (
	"errors"
	"strings"
	"testing"
)

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		sel string
		pos int
		msg string
	}{
		// Incomplete input.
		{"a =", 3, "unexpected end of selector, expected an expression"},
		{"(a", 2, "expected ')' to close the '(' at offset 0"},
		{"a = (1", 6, "expected ')' to close the '(' at offset 4"},
		{"NOT", 3, "expected an expression"},
		{"a LIKE", 6, "a string literal pattern after LIKE"},
		{"a BETWEEN 1", 11, "expected AND in BETWEEN"},
		{"a IN ('x'", 9, "expected ',' or ')' in the IN list"},
		// Bad tokens.
		{"a = 'abc", 4, "unterminated string literal"},
		{"a = 'it''s", 4, "unterminated string literal"},
		{"a # 1", 2, "unexpected character '#'"},
		{"a = 1 ;", 6, "unexpected character ';'"},
		{"a != 1", 2, "not-equal is written <>"},
		{`a = "x"`, 4, "string literals use single quotes"},
		{"a /* x", 2, "unterminated comment"},
		{"a = 0x", 4, "hexadecimal literal needs digits"},
		{"a = 09", 4, "invalid octal literal 09"},
		{"a = 5x", 4, "malformed number 5x"},
		{"a = 1.2.3", 4, "malformed number 1.2.3"},
		{"a = 1e", 4, "malformed number 1e"},
		{"a = 99999999999999999999", 4, "integer literal out of the 64-bit range"},
		{"a = 9223372036854775808", 4, "out of the 64-bit range"},
		{"a = 0x8000000000000000", 4, "out of the 64-bit range"},
		{"a = 1e999", 4, "number literal 1e999 is out of range"},
		// Bad grammar.
		{"a = 1 b", 6, "unexpected identifier b, expected an operator or the end of the selector"},
		{"a == 1", 3, "unexpected '='"},
		{")", 0, "unexpected ')'"},
		{"a = 1 AND", 9, "expected an expression"},
		{"a IS 5", 5, "unexpected number, expected NULL"},
		{"a IS NOT 5", 9, "expected NULL"},
		{"a NOT 5", 6, "expected LIKE, BETWEEN or IN after NOT"},
		{"a = NOT b", 4, "unexpected NOT"},
		{"a IN ()", 6, "a string literal in the IN list"},
		{"a IN ('x', 1)", 11, "a string literal in the IN list"},
		{"a IN 'x'", 5, "'(' after IN"},
		{"a LIKE 5", 7, "a string literal pattern after LIKE"},
		{"a LIKE b", 7, "a string literal pattern after LIKE"},
		{"a LIKE 'x' ESCAPE 5", 18, "a string literal after ESCAPE"},
		{"a LIKE 'x' ESCAPE 'ab'", 18, "ESCAPE needs exactly one character, found 2"},
		{"a LIKE 'x' ESCAPE ''", 18, "found 0"},
		{"a BETWEEN 1 OR 2", 12, "expected AND in BETWEEN"},
		{"a = NULL", 4, "NULL is only allowed in IS NULL and IS NOT NULL"},
		{"XPATH '//a'", 0, "XPATH selectors are not supported"},
		{"xquery 'x'", 0, "xquery selectors are not supported"},
		// Types that can never work.
		{"a + 1", 0, "the selector needs a boolean expression, found a number"},
		{"'abc'", 0, "found a string"},
		{"5", 0, "found a number"},
		{"a AND 5", 6, "AND needs a boolean expression, found a number"},
		{"'x' OR a", 0, "OR needs a boolean expression, found a string"},
		{"NOT 'x'", 4, "NOT needs a boolean expression, found a string"},
		{"'a' + 1 = 2", 0, "'+' needs numbers, found a string"},
		{"a + TRUE = 1", 4, "'+' needs numbers, found a boolean"},
		{"a * (b = 1) = 1", 4, "'*' needs numbers, found a boolean"},
		{"-'a' = 1", 1, "unary '-' needs numbers, found a string"},
		{"+TRUE = 1", 1, "unary '+' needs numbers, found a boolean"},
		{"a < 'x'", 4, "'<' needs numbers, found a string"},
		{"TRUE > 1", 0, "'>' needs numbers, found a boolean"},
		{"a < b < c", 0, "'<' needs numbers, found a boolean"},
		{"a BETWEEN 'x' AND 2", 10, "BETWEEN needs numbers, found a string"},
		{"a BETWEEN 1 AND 'y'", 16, "BETWEEN needs numbers, found a string"},
		{"'x' BETWEEN 1 AND 2", 0, "BETWEEN needs numbers"},
		{"'a' = 1", 4, "'=' cannot compare a string with a number"},
		{"TRUE <> 1", 5, "'<>' cannot compare a boolean with a number"},
		{"(a = 1) = 'x'", 8, "cannot compare a boolean with a string"},
		{"5 LIKE 'x'", 0, "LIKE needs a string, found a number"},
		{"(a = b) NOT LIKE 'x'", 0, "LIKE needs a string, found a boolean"},
		{"a + 1 IN ('x')", 0, "IN needs a property name on its left"},
		{"'a' IN ('x')", 0, "IN needs a property name"},
	}
	for _, c := range cases {
		sel, err := Parse(c.sel)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, %v; want a *SyntaxError", c.sel, sel, err)
			continue
		}
		if se.Pos != c.pos || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("Parse(%q) error at %d %q; want at %d containing %q", c.sel, se.Pos, se.Msg, c.pos, c.msg)
		}
		if want := "selector: syntax error at offset "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Error() = %q, want prefix %q", err.Error(), want)
		}
	}
}

func TestLimits(t *testing.T) {
	deep := strings.Repeat("(", maxNesting+1) + "a" + strings.Repeat(")", maxNesting+1)
	if _, err := Parse(deep); err == nil || !strings.Contains(err.Error(), "nests more than") {
		t.Errorf("deep parentheses: err = %v", err)
	}
	nots := strings.Repeat("NOT ", maxNesting+1) + "a"
	if _, err := Parse(nots); err == nil || !strings.Contains(err.Error(), "nests more than") {
		t.Errorf("deep NOT: err = %v", err)
	}
	signs := strings.Repeat("- ", maxNesting+1) + "a = 1"
	if _, err := Parse(signs); err == nil || !strings.Contains(err.Error(), "nests more than") {
		t.Errorf("deep signs: err = %v", err)
	}
	long := "a = 1" + strings.Repeat(" AND a = 1", maxHeight)
	if _, err := Parse(long); err == nil || !strings.Contains(err.Error(), "too complex") {
		t.Errorf("long chain: err = %v", err)
	}
	// Just inside the limits parses.
	ok := strings.Repeat("(", maxNesting) + "a" + strings.Repeat(")", maxNesting)
	if _, err := Parse(ok); err != nil {
		t.Errorf("%d parentheses: %v", maxNesting, err)
	}
	if _, err := Parse("a = 1" + strings.Repeat(" AND a = 1", maxHeight/2)); err != nil {
		t.Errorf("chain of %d: %v", maxHeight/2, err)
	}
}

func TestCanonicalString(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a=1 and b<>'x'", "a = 1 AND b <> 'x'"},
		{"(a = 1)", "a = 1"},
		{"flag", "flag"},
		{"a = 1 OR (b = 2 AND c = 3)", "a = 1 OR b = 2 AND c = 3"},
		{"(a = 1 OR b = 2) AND c = 3", "(a = 1 OR b = 2) AND c = 3"},
		{"a OR (b OR c)", "a OR (b OR c)"},
		{"(a OR b) OR c", "a OR b OR c"},
		{"a - (b - c) = 0", "a - (b - c) = 0"},
		{"(a - b) - c = 0", "a - b - c = 0"},
		{"a * (b + c) / d % e = 0", "a * (b + c) / d % e = 0"},
		{"not not flag", "NOT NOT flag"},
		{"NOT (a AND b)", "NOT (a AND b)"},
		{"NOT a = 1", "NOT a = 1"},
		{"(NOT a) = b", "(NOT a) = b"},
		{"- -a > 0", "-(-a) > 0"},
		{"-(a + 1) > 0", "-(a + 1) > 0"},
		{"+a = 1", "+a = 1"},
		{"-(5) = a", "-5 = a"},
		{"- -5 = a", "5 = a"},
		{"-(2.5) = a", "-2.5 = a"},
		{"-(-2.5) = a", "2.5 = a"},
		{"a - -5 = 0", "a - -5 = 0"},
		{"a * -5 = 0", "a * -5 = 0"},
		{"a = 0x1F", "a = 31"},
		{"a = 010", "a = 8"},
		{"a = 10L", "a = 10"},
		{"a = 5.", "a = 5.0"},
		{"a = -0.0", "a = -0.0"},
		{"a = 1e3", "a = 1000.0"},
		{"a = 1.5E-7", "a = 1.5e-07"},
		{"a = 1e21", "a = 1e+21"},
		{"a = -9223372036854775808", "a = -9223372036854775808"},
		{"a in ('x','it''s')", "a IN ('x', 'it''s')"},
		{"a not in ('x')", "a NOT IN ('x')"},
		{`a not like 'x\%' escape '\'`, `a NOT LIKE 'x\%' ESCAPE '\'`},
		{"a like '%'", "a LIKE '%'"},
		{"a not between 1 and 2", "a NOT BETWEEN 1 AND 2"},
		{"a BETWEEN b + 1 AND c * 2", "a BETWEEN b + 1 AND c * 2"},
		{"a is not null", "a IS NOT NULL"},
		{"(a = b) = c", "a = b = c"},
		{"a = (b = c)", "a = (b = c)"},
		{"(a < b) = TRUE", "a < b = TRUE"},
		{"a = 1 /* c */ -- x", "a = 1"},
		{"true", "TRUE"},
	}
	for _, c := range cases {
		sel, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got := sel.String(); got != c.want {
			t.Errorf("Parse(%q).String() = %q, want %q", c.in, got, c.want)
		}
		again, err := Parse(sel.String())
		if err != nil {
			t.Errorf("canonical %q does not parse: %v", sel.String(), err)
			continue
		}
		if again.String() != sel.String() {
			t.Errorf("canonical %q re-renders as %q", sel.String(), again.String())
		}
	}
}
