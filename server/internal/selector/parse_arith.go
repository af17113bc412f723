package selector

import "strconv"

// parseAdd parses + and -.
func (p *parser) parseAdd() (operand, error) {
	return p.arith(p.parseMul, tPlus, tMinus)
}

// parseMul parses * / and %.
func (p *parser) parseMul() (operand, error) {
	return p.arith(p.parseUnary, tStar, tSlash, tPercent)
}

// arith parses a left-associative chain of the given operators.
func (p *parser) arith(sub func() (operand, error), ops ...tokKind) (operand, error) {
	left, err := sub()
	if err != nil {
		return operand{}, err
	}
	for isOneOf(p.tok.kind, ops) {
		opTok := p.tok
		if err := numeric(left, "'"+opTok.text+"'"); err != nil {
			return operand{}, err
		}
		if err := p.advance(); err != nil {
			return operand{}, err
		}
		right, err := sub()
		if err != nil {
			return operand{}, err
		}
		if err := numeric(right, "'"+opTok.text+"'"); err != nil {
			return operand{}, err
		}
		n := &arithNode{op: opTok.text[0], l: left.n, r: right.n}
		if left, err = build(n, numKind, left.pos, left, right); err != nil {
			return operand{}, err
		}
	}
	return left, nil
}

func isOneOf(k tokKind, ks []tokKind) bool {
	for _, x := range ks {
		if k == x {
			return true
		}
	}
	return false
}

// parseUnary parses unary - and +. A sign on a numeric literal is folded
// into it, which is also how -9223372036854775808 gets written.
func (p *parser) parseUnary() (operand, error) {
	if p.tok.kind != tMinus && p.tok.kind != tPlus {
		return p.parsePrimary()
	}
	opTok := p.tok
	neg := opTok.kind == tMinus
	if err := p.advance(); err != nil {
		return operand{}, err
	}
	if p.tok.kind == tNumber {
		v, err := numberValue(p.tok, neg)
		if err != nil {
			return operand{}, err
		}
		if err := p.advance(); err != nil {
			return operand{}, err
		}
		return operand{n: &literal{v: v}, kind: numKind, pos: opTok.pos, height: 1}, nil
	}
	if err := p.enter(); err != nil {
		return operand{}, err
	}
	defer p.leave()
	x, err := p.parseUnary()
	if err != nil {
		return operand{}, err
	}
	if err := numeric(x, "unary '"+opTok.text+"'"); err != nil {
		return operand{}, err
	}
	if lit, ok := x.n.(*literal); ok {
		// A parenthesized or doubly signed literal: -(5), - -5.
		if neg {
			lit = negate(lit)
		}
		return operand{n: lit, kind: numKind, pos: opTok.pos, height: 1}, nil
	}
	return build(&unaryNode{neg: neg, x: x.n}, numKind, opTok.pos, x)
}

func negate(lit *literal) *literal {
	if lit.v.kind == kindInt {
		// Wraps for MinInt64, like Java's long negation.
		return &literal{v: intValue(-lit.v.i)}
	}
	return &literal{v: floatValue(-lit.v.f)}
}

func (p *parser) parsePrimary() (operand, error) {
	t := p.tok
	var op operand
	switch t.kind {
	case tNumber:
		v, err := numberValue(t, false)
		if err != nil {
			return operand{}, err
		}
		op = operand{n: &literal{v: v}, kind: numKind}
	case tString:
		op = operand{n: &literal{v: stringValue(t.text)}, kind: strKind}
	case tTrue, tFalse:
		op = operand{n: &literal{v: boolValue(t.kind == tTrue)}, kind: boolKind}
	case tIdent:
		op = operand{n: &ident{name: t.text}, kind: anyKind}
	case tNull:
		return operand{}, syntaxErr(t.pos, "NULL is only allowed in IS NULL and IS NOT NULL")
	case tLParen:
		return p.parenthesized()
	default:
		return operand{}, p.unexpected("an expression")
	}
	if err := p.advance(); err != nil {
		return operand{}, err
	}
	if t.kind == tIdent && p.tok.kind == tString && (asciiEqualFold(t.text, "XPATH") || asciiEqualFold(t.text, "XQUERY")) {
		return operand{}, syntaxErr(t.pos, "%s selectors are not supported", t.text)
	}
	op.pos, op.height = t.pos, 1
	return op, nil
}

func (p *parser) parenthesized() (operand, error) {
	open := p.tok.pos
	if err := p.enter(); err != nil {
		return operand{}, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return operand{}, err
	}
	x, err := p.parseOr()
	if err != nil {
		return operand{}, err
	}
	if p.tok.kind != tRParen {
		return operand{}, p.unexpected("')' to close the '(' at offset " + strconv.Itoa(open))
	}
	if err := p.advance(); err != nil {
		return operand{}, err
	}
	x.pos = open
	return x, nil
}

// numberValue converts a number token, with a sign folded in when neg.
func numberValue(t token, neg bool) (value, error) {
	if t.base == 0 {
		// The lexer has checked the syntax, so range is the only failure.
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return unknown, syntaxErr(t.pos, "number literal %s is out of range", t.text)
		}
		if neg {
			f = -f
		}
		return floatValue(f), nil
	}
	u, ok := parseUint(t.text, t.base)
	if ok {
		var n int64
		if n, ok = signed(u, neg); ok {
			return intValue(n), nil
		}
	}
	return unknown, syntaxErr(t.pos, "integer literal out of the 64-bit range")
}
