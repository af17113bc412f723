package selector

import (
	"strings"
	"unicode/utf8"
)

// likeNode is x [NOT] LIKE 'pattern' [ESCAPE 'c']. A non-string value is
// FALSE (so NOT LIKE is TRUE), as in ActiveMQ.
type likeNode struct {
	x       node
	pattern string // as written, for format
	escape  string // "" when there is no ESCAPE clause
	m       likeMatcher
	neg     bool
}

func (n *likeNode) eval(get getter) value {
	v := n.x.eval(get)
	if v.kind == kindNull {
		return unknown
	}
	return boolValue((v.kind == kindString && n.m.match(v.s)) != n.neg)
}

func (n *likeNode) prec() int { return precRel }

func (n *likeNode) format(b *strings.Builder) {
	formatChild(b, n.x, precRel)
	if n.neg {
		b.WriteString(" NOT")
	}
	b.WriteString(" LIKE ")
	quote(b, n.pattern)
	if n.escape != "" {
		b.WriteString(" ESCAPE ")
		quote(b, n.escape)
	}
}

// likeAtom is a literal run of text or, when lit is empty, a run of n '_'
// wildcards, each matching one code point.
type likeAtom struct {
	lit string
	n   int
}

// likeSeg is the part of a pattern between two '%' wildcards.
type likeSeg []likeAtom

// likeMatcher is a compiled LIKE pattern: the segments between '%' signs.
// With no '%' there is one segment that must cover the whole string.
// Otherwise the first segment is anchored at the start, the last at the
// end, and each one between is placed at its earliest match after the
// previous one; earliest placement is optimal because '%' absorbs any gap,
// so matching needs no backtracking and no allocation.
type likeMatcher struct {
	segs []likeSeg
}

// compileLike splits a pattern into segments. esc is the escape rune, or -1.
// Like ActiveMQ, esc escapes only a following '%', '_' or esc; before any
// other character, or at the end, it is an ordinary character.
func compileLike(pattern string, esc rune) likeMatcher {
	var (
		m   likeMatcher
		seg likeSeg
		lit strings.Builder
	)
	flush := func() {
		if lit.Len() > 0 {
			seg = append(seg, likeAtom{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pattern); {
		r, w := utf8.DecodeRuneInString(pattern[i:])
		i += w
		if r == esc && i < len(pattern) {
			if next, nw := utf8.DecodeRuneInString(pattern[i:]); next == '%' || next == '_' || next == esc {
				lit.WriteRune(next)
				i += nw
				continue
			}
		}
		switch r {
		case '%':
			flush()
			m.segs = append(m.segs, seg)
			seg = nil
		case '_':
			flush()
			if k := len(seg) - 1; k >= 0 && seg[k].lit == "" {
				seg[k].n++
			} else {
				seg = append(seg, likeAtom{n: 1})
			}
		default:
			// Copy the source bytes, not the decoded rune, so that invalid
			// UTF-8 in the pattern matches the same bytes in the value.
			lit.WriteString(pattern[i-w : i])
		}
	}
	flush()
	m.segs = append(m.segs, seg)
	return m
}

func (m *likeMatcher) match(s string) bool {
	if len(m.segs) == 1 {
		end, ok := m.segs[0].matchAt(s, 0)
		return ok && end == len(s)
	}
	p, ok := m.segs[0].matchAt(s, 0)
	if !ok {
		return false
	}
	last := len(m.segs) - 1
	for _, seg := range m.segs[1:last] {
		if p, ok = seg.find(s, p); !ok {
			return false
		}
	}
	start, ok := m.segs[last].matchBefore(s, len(s))
	return ok && start >= p
}

// matchAt matches the segment at byte offset p and returns where it ends.
func (seg likeSeg) matchAt(s string, p int) (int, bool) {
	for _, a := range seg {
		if a.lit != "" {
			if !strings.HasPrefix(s[p:], a.lit) {
				return 0, false
			}
			p += len(a.lit)
			continue
		}
		for range a.n {
			if p >= len(s) {
				return 0, false
			}
			_, w := utf8.DecodeRuneInString(s[p:])
			p += w
		}
	}
	return p, true
}

// matchBefore matches the segment so that it ends at byte offset e and
// returns where it starts.
func (seg likeSeg) matchBefore(s string, e int) (int, bool) {
	for i := len(seg) - 1; i >= 0; i-- {
		a := seg[i]
		if a.lit != "" {
			if !strings.HasSuffix(s[:e], a.lit) {
				return 0, false
			}
			e -= len(a.lit)
			continue
		}
		for range a.n {
			if e <= 0 {
				return 0, false
			}
			_, w := utf8.DecodeLastRuneInString(s[:e])
			e -= w
		}
	}
	return e, true
}

// find places the segment at its earliest match at or after p and returns
// where that match ends.
func (seg likeSeg) find(s string, p int) (int, bool) {
	if len(seg) == 0 {
		return p, true
	}
	for p <= len(s) {
		if lead := seg[0].lit; lead != "" {
			// Jump straight to the next occurrence of the leading text.
			i := strings.Index(s[p:], lead)
			if i < 0 {
				return 0, false
			}
			p += i
		}
		if end, ok := seg.matchAt(s, p); ok {
			return end, true
		}
		if p == len(s) {
			break
		}
		_, w := utf8.DecodeRuneInString(s[p:])
		p += w
	}
	return 0, false
}
