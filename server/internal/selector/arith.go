package selector

import (
	"math"
	"strings"
)

// arithNode is one of + - * / %. Operands that are not numbers (after the
// STOMP string conversion) make the result UNKNOWN.
type arithNode struct {
	op   byte
	l, r node
}

func (n *arithNode) eval(get getter) value {
	l, ok := n.l.eval(get).number()
	if !ok {
		return unknown
	}
	r, ok := n.r.eval(get).number()
	if !ok {
		return unknown
	}
	ints := l.kind == kindInt && r.kind == kindInt
	switch n.op {
	case '+':
		if ints {
			return intValue(l.i + r.i)
		}
		return floatValue(l.float() + r.float())
	case '-':
		if ints {
			return intValue(l.i - r.i)
		}
		return floatValue(l.float() - r.float())
	case '*':
		if ints {
			return intValue(l.i * r.i)
		}
		return floatValue(l.float() * r.float())
	case '/':
		// ActiveMQ divides in double precision even for two integers.
		return floatValue(l.float() / r.float())
	default:
		return floatValue(math.Mod(l.float(), r.float()))
	}
}

func (n *arithNode) prec() int {
	if n.op == '+' || n.op == '-' {
		return precAdd
	}
	return precMul
}

func (n *arithNode) format(b *strings.Builder) {
	p := n.prec()
	formatChild(b, n.l, p)
	b.WriteByte(' ')
	b.WriteByte(n.op)
	b.WriteByte(' ')
	formatChild(b, n.r, p+1)
}

// unaryNode is unary minus or, without neg, unary plus, which converts its
// operand to a number and so makes +'5'-style string properties numeric.
type unaryNode struct {
	neg bool
	x   node
}

func (n *unaryNode) eval(get getter) value {
	v, ok := n.x.eval(get).number()
	if !ok {
		return unknown
	}
	if !n.neg {
		return v
	}
	if v.kind == kindInt {
		return intValue(-v.i)
	}
	return floatValue(-v.f)
}

func (n *unaryNode) prec() int { return precUnary }

func (n *unaryNode) format(b *strings.Builder) {
	if n.neg {
		b.WriteByte('-')
	} else {
		b.WriteByte('+')
	}
	formatChild(b, n.x, precPrimary)
}
