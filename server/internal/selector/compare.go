package selector

import "strings"

// eqNode is = or, with neg, <> (defined as NOT =, as in ActiveMQ).
type eqNode struct {
	l, r node
	neg  bool
}

func (n *eqNode) eval(get getter) value {
	return negateIf(equal(n.l.eval(get), n.r.eval(get)), n.neg)
}

func (n *eqNode) prec() int { return precEq }

func (n *eqNode) format(b *strings.Builder) {
	formatChild(b, n.l, precEq)
	if n.neg {
		b.WriteString(" <> ")
	} else {
		b.WriteString(" = ")
	}
	formatChild(b, n.r, precEq+1)
}

// equal compares two values by the package's type rules: UNKNOWN when
// either is absent, FALSE when the types cannot be reconciled.
func equal(l, r value) value {
	if l.kind == kindNull || r.kind == kindNull {
		return unknown
	}
	if l.kind == r.kind {
		// The common case, taken without conversions.
		switch l.kind {
		case kindString:
			return boolValue(l.s == r.s)
		case kindInt:
			return boolValue(l.i == r.i)
		case kindFloat:
			return boolValue(l.f == r.f)
		default:
			return boolValue(l.b == r.b)
		}
	}
	switch {
	case l.kind == kindBool || r.kind == kindBool:
		lb, lok := l.boolean()
		rb, rok := r.boolean()
		return boolValue(lok && rok && lb == rb)
	}
	// Numbers, or a string against a number: compare numerically.
	ln, lok := l.number()
	rn, rok := r.number()
	if !lok || !rok {
		return vFalse
	}
	if ln.kind == kindInt && rn.kind == kindInt {
		return boolValue(ln.i == rn.i)
	}
	return boolValue(ln.float() == rn.float())
}

type cmpOp uint8

const (
	opLt cmpOp = iota
	opLe
	opGt
	opGe
)

var cmpText = [...]string{opLt: " < ", opLe: " <= ", opGt: " > ", opGe: " >= "}

// cmpNode is one of < <= > >=.
type cmpNode struct {
	op   cmpOp
	l, r node
}

func (n *cmpNode) eval(get getter) value {
	return compare(n.op, n.l.eval(get), n.r.eval(get))
}

func (n *cmpNode) prec() int { return precRel }

func (n *cmpNode) format(b *strings.Builder) {
	formatChild(b, n.l, precRel)
	b.WriteString(cmpText[n.op])
	formatChild(b, n.r, precRel+1)
}

// compare orders two values as numbers: UNKNOWN when either is absent,
// FALSE when either is not a number (nor a string that converts to one) or
// is NaN.
func compare(op cmpOp, l, r value) value {
	if l.kind == kindNull || r.kind == kindNull {
		return unknown
	}
	if l.kind == kindInt && r.kind == kindInt {
		return boolValue(ordered(op, cmp3(l.i < r.i, l.i > r.i)))
	}
	ln, lok := l.number()
	rn, rok := r.number()
	if !lok || !rok {
		return vFalse
	}
	var c int
	if ln.kind == kindInt && rn.kind == kindInt {
		c = cmp3(ln.i < rn.i, ln.i > rn.i)
	} else {
		lf, rf := ln.float(), rn.float()
		if lf != lf || rf != rf {
			return vFalse
		}
		c = cmp3(lf < rf, lf > rf)
	}
	return boolValue(ordered(op, c))
}

// ordered applies op to a three-way comparison result.
func ordered(op cmpOp, c int) bool {
	switch op {
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	case opGt:
		return c > 0
	default:
		return c >= 0
	}
}

func cmp3(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	default:
		return 0
	}
}

// betweenNode is x [NOT] BETWEEN lo AND hi. NOT BETWEEN is NOT (BETWEEN),
// SQL's definition; x is evaluated once.
type betweenNode struct {
	x, lo, hi node
	neg       bool
}

func (n *betweenNode) eval(get getter) value {
	x := n.x.eval(get)
	ge := compare(opGe, x, n.lo.eval(get))
	if ge.kind == kindBool && !ge.b {
		return negateIf(vFalse, n.neg)
	}
	le := compare(opLe, x, n.hi.eval(get))
	var v value
	switch {
	case le.kind == kindBool && !le.b:
		v = vFalse
	case ge.kind == kindNull || le.kind == kindNull:
		v = unknown
	default:
		v = vTrue
	}
	return negateIf(v, n.neg)
}

func (n *betweenNode) prec() int { return precRel }

func (n *betweenNode) format(b *strings.Builder) {
	formatChild(b, n.x, precRel)
	if n.neg {
		b.WriteString(" NOT")
	}
	b.WriteString(" BETWEEN ")
	formatChild(b, n.lo, precAdd)
	b.WriteString(" AND ")
	formatChild(b, n.hi, precAdd)
}
