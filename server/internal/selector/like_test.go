package selector

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// likeRegexp is an independent reference for LIKE: the same translation to
// a regular expression that ActiveMQ performs, with the same escape rule.
func likeRegexp(pattern string, esc rune) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if r == esc && i+1 < len(rs) && (rs[i+1] == '%' || rs[i+1] == '_' || rs[i+1] == esc) {
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
			continue
		}
		switch r {
		case '%':
			b.WriteString(`.*`)
		case '_':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String())
}

func randomString(r *rand.Rand, alphabet []rune, maxLen int) string {
	n := r.IntN(maxLen + 1)
	rs := make([]rune, n)
	for i := range rs {
		rs[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(rs)
}

// TestLikeMatchesRegexp compares the compiled matcher with the regexp
// reference on random patterns and values over a small alphabet, so that
// wildcards, repeats, escapes and multi-byte characters collide often.
func TestLikeMatchesRegexp(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	patAlpha := []rune("ab%%__é!")
	valAlpha := []rune("abé%_!")
	for range 20000 {
		pattern := randomString(r, patAlpha, 8)
		esc := rune(-1)
		if r.IntN(2) == 0 {
			esc = '!'
		}
		m := compileLike(pattern, esc)
		re := likeRegexp(pattern, esc)
		for range 10 {
			s := randomString(r, valAlpha, 10)
			if got, want := m.match(s), re.MatchString(s); got != want {
				t.Fatalf("pattern %q escape %q on %q: got %v, want %v", pattern, esc, s, got, want)
			}
		}
	}
}

func TestLikeInvalidUTF8(t *testing.T) {
	// Bytes that are not UTF-8 are each one character, in the pattern and
	// in the value, so a literal byte still matches itself and nothing else.
	// (The regexp reference cannot say this: it reads such a byte in the
	// pattern as U+FFFD, which then matches any invalid byte.)
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"\xff%", "\xffabc", true},
		{"_b", "\xffb", true},
		{"a_", "a\xff", true},
		{"%\xfe", "x\xfe", true},
		{"%\xfe", "x\xff", false},
	}
	for _, c := range cases {
		m := compileLike(c.pattern, -1)
		if got := m.match(c.s); got != c.want {
			t.Errorf("%q LIKE %q = %v, want %v", c.s, c.pattern, got, c.want)
		}
	}
}
