package selector

import (
	"errors"
	"testing"
)

// fuzzLookups are property sources that give any identifier a value, so
// that fuzzed selectors exercise every type rule, not only UNKNOWN.
var fuzzLookups = []func(string) (any, bool){
	func(string) (any, bool) { return nil, false },
	func(name string) (any, bool) { return name, true },
	func(name string) (any, bool) { return int64(len(name)), true },
	func(name string) (any, bool) { return float64(len(name)) / 2, true },
	func(name string) (any, bool) { return len(name)%2 == 0, true },
	func(string) (any, bool) { return "12", true },
	func(string) (any, bool) { return "true", true },
}

// FuzzParse checks that Parse never panics, that its errors are
// *SyntaxError with a position inside the input, and that the canonical
// String of a parsed selector parses to the same String and the same
// results. The seed corpus in testdata/fuzz/FuzzParse runs with go test.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) returned %T, want *SyntaxError", s, err)
			}
			if se.Pos < 0 || se.Pos > len(s) || se.Msg == "" {
				t.Fatalf("Parse(%q): bad error %+v", s, se)
			}
			return
		}
		if sel == nil {
			return
		}
		canon := sel.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form %q of %q re-renders as %q", canon, s, again.String())
		}
		for i, get := range fuzzLookups {
			if a, b := sel.Matches(get), again.Matches(get); a != b {
				t.Fatalf("%q and its canonical form %q disagree with lookup %d: %v vs %v", s, canon, i, a, b)
			}
		}
	})
}
