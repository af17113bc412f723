package selector

import "unicode/utf8"

var cmpOps = map[tokKind]cmpOp{tLt: opLt, tLe: opLe, tGt: opGt, tGe: opGe}

// parseRel parses < <= > >= and the [NOT] LIKE / BETWEEN / IN predicates.
func (p *parser) parseRel() (operand, error) {
	left, err := p.parseAdd()
	if err != nil {
		return operand{}, err
	}
	for {
		var n node
		var kids []operand
		switch op, isCmp := cmpOps[p.tok.kind]; {
		case isCmp:
			opTok := p.tok
			if err := numeric(left, "'"+opTok.text+"'"); err != nil {
				return operand{}, err
			}
			if err := p.advance(); err != nil {
				return operand{}, err
			}
			right, err := p.parseAdd()
			if err != nil {
				return operand{}, err
			}
			if err := numeric(right, "'"+opTok.text+"'"); err != nil {
				return operand{}, err
			}
			n, kids = &cmpNode{op: op, l: left.n, r: right.n}, []operand{left, right}
		case p.tok.kind == tNot || p.tok.kind == tLike || p.tok.kind == tBetween || p.tok.kind == tIn:
			if n, kids, err = p.predicate(left); err != nil {
				return operand{}, err
			}
		default:
			return left, nil
		}
		if left, err = build(n, boolKind, left.pos, kids...); err != nil {
			return operand{}, err
		}
	}
}

// predicate parses [NOT] LIKE / BETWEEN / IN after its left operand.
func (p *parser) predicate(left operand) (node, []operand, error) {
	neg := p.tok.kind == tNot
	if neg {
		if err := p.advance(); err != nil {
			return nil, nil, err
		}
	}
	kw := p.tok.kind
	if kw != tLike && kw != tBetween && kw != tIn {
		// Only NOT gets here, followed by something else.
		return nil, nil, p.unexpected("LIKE, BETWEEN or IN after NOT")
	}
	if err := p.advance(); err != nil {
		return nil, nil, err
	}
	switch kw {
	case tLike:
		n, err := p.like(left, neg)
		return n, []operand{left}, err
	case tBetween:
		return p.between(left, neg)
	default:
		n, err := p.in(left, neg)
		return n, []operand{left}, err
	}
}

func (p *parser) like(left operand, neg bool) (node, error) {
	if left.kind == numKind || left.kind == boolKind {
		return nil, syntaxErr(left.pos, "LIKE needs a string, found %s", left.kind)
	}
	if p.tok.kind != tString {
		return nil, p.unexpected("a string literal pattern after LIKE")
	}
	n := &likeNode{x: left.n, pattern: p.tok.text, neg: neg}
	if err := p.advance(); err != nil {
		return nil, err
	}
	esc := rune(-1)
	if p.tok.kind == tEscape {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tString {
			return nil, p.unexpected("a string literal after ESCAPE")
		}
		if c := utf8.RuneCountInString(p.tok.text); c != 1 {
			return nil, syntaxErr(p.tok.pos, "ESCAPE needs exactly one character, found %d", c)
		}
		n.escape = p.tok.text
		esc, _ = utf8.DecodeRuneInString(n.escape)
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	n.m = compileLike(n.pattern, esc)
	return n, nil
}

func (p *parser) between(left operand, neg bool) (node, []operand, error) {
	if err := numeric(left, "BETWEEN"); err != nil {
		return nil, nil, err
	}
	lo, err := p.parseAdd()
	if err != nil {
		return nil, nil, err
	}
	if err := numeric(lo, "BETWEEN"); err != nil {
		return nil, nil, err
	}
	if p.tok.kind != tAnd {
		return nil, nil, p.unexpected("AND in BETWEEN")
	}
	if err := p.advance(); err != nil {
		return nil, nil, err
	}
	hi, err := p.parseAdd()
	if err != nil {
		return nil, nil, err
	}
	if err := numeric(hi, "BETWEEN"); err != nil {
		return nil, nil, err
	}
	return &betweenNode{x: left.n, lo: lo.n, hi: hi.n, neg: neg}, []operand{left, lo, hi}, nil
}

func (p *parser) in(left operand, neg bool) (node, error) {
	if _, ok := left.n.(*ident); !ok {
		return nil, syntaxErr(left.pos, "IN needs a property name on its left")
	}
	if p.tok.kind != tLParen {
		return nil, p.unexpected("'(' after IN")
	}
	var items []string
	for {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tString {
			return nil, p.unexpected("a string literal in the IN list")
		}
		items = append(items, p.tok.text)
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tRParen {
			break
		}
		if p.tok.kind != tComma {
			return nil, p.unexpected("',' or ')' in the IN list")
		}
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return newInNode(left.n, items, neg), nil
}
