package selector

import (
	"math"
	"strconv"
	"strings"
)

// getter is the caller's property lookup, as passed to Selector.Matches.
type getter = func(name string) (any, bool)

// node is one compiled expression. eval must not allocate: it runs for
// every message and every consumer with a selector.
type node interface {
	eval(get getter) value
	// prec is the binding strength of the node's outermost operator, used
	// by format to put back exactly the parentheses the tree needs.
	prec() int
	format(b *strings.Builder)
}

// Binding strengths, loosest first.
const (
	precOr = iota + 1
	precAnd
	precNot
	precEq
	precRel
	precAdd
	precMul
	precUnary
	precPrimary
)

// formatChild writes n, parenthesized when it binds looser than min.
func formatChild(b *strings.Builder, n node, min int) {
	if n.prec() < min {
		b.WriteByte('(')
		n.format(b)
		b.WriteByte(')')
		return
	}
	n.format(b)
}

// literal is a constant.
type literal struct{ v value }

func (n *literal) eval(getter) value { return n.v }

func (n *literal) prec() int {
	// A negative number is written with a leading minus, so it binds like
	// unary minus: -(-5) must keep its parentheses, or "--" starts a comment.
	if n.v.kind == kindInt && n.v.i < 0 || n.v.kind == kindFloat && math.Signbit(n.v.f) {
		return precUnary
	}
	return precPrimary
}

func (n *literal) format(b *strings.Builder) {
	switch v := n.v; v.kind {
	case kindBool:
		if v.b {
			b.WriteString("TRUE")
		} else {
			b.WriteString("FALSE")
		}
	case kindInt:
		b.WriteString(strconv.FormatInt(v.i, 10))
	case kindFloat:
		s := strconv.FormatFloat(v.f, 'g', -1, 64)
		b.WriteString(s)
		if !strings.ContainsAny(s, ".e") {
			// Keep it a float when parsed again: 5.0 must not become 5.
			b.WriteString(".0")
		}
	case kindString:
		quote(b, v.s)
	}
}

// quote writes s as a string literal.
func quote(b *strings.Builder, s string) {
	b.WriteByte('\'')
	b.WriteString(strings.ReplaceAll(s, "'", "''"))
	b.WriteByte('\'')
}

// ident is a header or property reference.
type ident struct{ name string }

func (n *ident) eval(get getter) value {
	x, ok := get(n.name)
	if !ok {
		return unknown
	}
	return fromAny(x)
}

func (n *ident) prec() int                 { return precPrimary }
func (n *ident) format(b *strings.Builder) { b.WriteString(n.name) }
