package selector

import "strings"

// The logic nodes implement SQL's three-valued logic over values of kind
// bool (TRUE, FALSE) or null (UNKNOWN). Their operands always produce one of
// those: the parser wraps property references in boolCast.

type andNode struct{ l, r node }

func (n *andNode) eval(get getter) value {
	l := n.l.eval(get)
	if l.kind == kindBool && !l.b {
		return vFalse
	}
	r := n.r.eval(get)
	if r.kind == kindBool && !r.b {
		return vFalse
	}
	if l.kind == kindNull || r.kind == kindNull {
		return unknown
	}
	return vTrue
}

func (n *andNode) prec() int { return precAnd }

func (n *andNode) format(b *strings.Builder) {
	formatChild(b, n.l, precAnd)
	b.WriteString(" AND ")
	formatChild(b, n.r, precAnd+1)
}

type orNode struct{ l, r node }

func (n *orNode) eval(get getter) value {
	l := n.l.eval(get)
	if l.kind == kindBool && l.b {
		return vTrue
	}
	r := n.r.eval(get)
	if r.kind == kindBool && r.b {
		return vTrue
	}
	if l.kind == kindNull || r.kind == kindNull {
		return unknown
	}
	return vFalse
}

func (n *orNode) prec() int { return precOr }

func (n *orNode) format(b *strings.Builder) {
	formatChild(b, n.l, precOr)
	b.WriteString(" OR ")
	formatChild(b, n.r, precOr+1)
}

type notNode struct{ x node }

func (n *notNode) eval(get getter) value { return not3(n.x.eval(get)) }

func (n *notNode) prec() int { return precNot }

func (n *notNode) format(b *strings.Builder) {
	b.WriteString("NOT ")
	formatChild(b, n.x, precNot)
}

// not3 negates a truth value; UNKNOWN stays UNKNOWN.
func not3(v value) value {
	if v.kind != kindBool {
		return unknown
	}
	return boolValue(!v.b)
}

// negateIf applies NOT when neg is set, for the NOT LIKE / NOT IN /
// NOT BETWEEN / <> / IS NOT NULL forms.
func negateIf(v value, neg bool) value {
	if neg {
		return not3(v)
	}
	return v
}

// boolCast turns a property used as a condition into a truth value: a
// boolean as it is, "true"/"false" strings converted (STOMP sends booleans
// as text), absent is UNKNOWN and anything else FALSE, as in ActiveMQ.
type boolCast struct{ x node }

func (n *boolCast) eval(get getter) value {
	v := n.x.eval(get)
	if v.kind == kindNull {
		return unknown
	}
	b, ok := v.boolean()
	return boolValue(ok && b)
}

// boolCast is invisible in the text: it only records how the operand is used.
func (n *boolCast) prec() int                 { return n.x.prec() }
func (n *boolCast) format(b *strings.Builder) { n.x.format(b) }
