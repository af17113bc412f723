package selector

// The parser is recursive descent, one function per binding strength (see
// the prec* constants). While it builds nodes it tracks each operand's
// static type so that selectors which can never evaluate, such as 'a' + 1,
// fail at Parse instead of silently matching nothing.

// staticKind is what the parser knows about an operand's type.
type staticKind uint8

const (
	anyKind  staticKind = iota // a property: known only at run time
	boolKind                   // a comparison, predicate or TRUE/FALSE
	numKind                    // a numeric literal or arithmetic
	strKind                    // a string literal
)

func (k staticKind) String() string {
	switch k {
	case boolKind:
		return "a boolean"
	case numKind:
		return "a number"
	case strKind:
		return "a string"
	default:
		return "a property"
	}
}

// Limits that keep hostile selectors from exhausting the stack: nesting
// bounds the parser's recursion (parentheses, NOT, unary signs), height
// bounds the tree that eval and format recurse over.
const (
	maxNesting = 100
	maxHeight  = 1000
)

// operand is a parsed subexpression with what the parser knows about it.
type operand struct {
	n      node
	kind   staticKind
	pos    int // where it starts in the source
	height int
}

type parser struct {
	lex     lexer
	tok     token
	nesting int
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) unexpected(want string) error {
	return syntaxErr(p.tok.pos, "unexpected %s, expected %s", p.tok.describe(), want)
}

// enter and leave bracket every recursive descent that does not consume a
// binary operator, so that deeply nested input fails instead of
// overflowing the stack.
func (p *parser) enter() error {
	p.nesting++
	if p.nesting > maxNesting {
		return syntaxErr(p.tok.pos, "selector nests more than %d levels deep", maxNesting)
	}
	return nil
}

func (p *parser) leave() { p.nesting-- }

// build wraps a new node as an operand starting at pos.
func build(n node, kind staticKind, pos int, children ...operand) (operand, error) {
	h := 0
	for _, c := range children {
		h = max(h, c.height)
	}
	if h+1 > maxHeight {
		return operand{}, syntaxErr(pos, "selector is too complex: more than %d nested operations", maxHeight)
	}
	return operand{n: n, kind: kind, pos: pos, height: h + 1}, nil
}

// condition returns op as a truth-valued node for what (AND, OR, NOT or
// the whole selector), casting a bare property reference.
func condition(op operand, what string) (node, error) {
	switch op.kind {
	case boolKind:
		return op.n, nil
	case anyKind:
		return &boolCast{x: op.n}, nil
	default:
		return nil, syntaxErr(op.pos, "%s needs a boolean expression, found %s", what, op.kind)
	}
}

// numeric checks that op can be a number, for what (an operator).
func numeric(op operand, what string) error {
	if op.kind == boolKind || op.kind == strKind {
		return syntaxErr(op.pos, "%s needs numbers, found %s", what, op.kind)
	}
	return nil
}

func (p *parser) parseOr() (operand, error) {
	return p.logical(tOr, "OR", p.parseAnd, func(l, r node) node { return &orNode{l, r} })
}

func (p *parser) parseAnd() (operand, error) {
	return p.logical(tAnd, "AND", p.parseNot, func(l, r node) node { return &andNode{l, r} })
}

// logical parses a left-associative chain of AND or OR.
func (p *parser) logical(op tokKind, what string, sub func() (operand, error), mk func(l, r node) node) (operand, error) {
	left, err := sub()
	if err != nil {
		return operand{}, err
	}
	for p.tok.kind == op {
		if err := p.advance(); err != nil {
			return operand{}, err
		}
		right, err := sub()
		if err != nil {
			return operand{}, err
		}
		l, err := condition(left, what)
		if err != nil {
			return operand{}, err
		}
		r, err := condition(right, what)
		if err != nil {
			return operand{}, err
		}
		if left, err = build(mk(l, r), boolKind, left.pos, left, right); err != nil {
			return operand{}, err
		}
	}
	return left, nil
}

func (p *parser) parseNot() (operand, error) {
	if p.tok.kind != tNot {
		return p.parseEq()
	}
	pos := p.tok.pos
	if err := p.enter(); err != nil {
		return operand{}, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return operand{}, err
	}
	x, err := p.parseNot()
	if err != nil {
		return operand{}, err
	}
	n, err := condition(x, "NOT")
	if err != nil {
		return operand{}, err
	}
	return build(&notNode{x: n}, boolKind, pos, x)
}

// parseEq parses = <> and IS [NOT] NULL, which bind looser than < > LIKE
// and the like, as in ActiveMQ's grammar.
func (p *parser) parseEq() (operand, error) {
	left, err := p.parseRel()
	if err != nil {
		return operand{}, err
	}
	for {
		switch p.tok.kind {
		case tEq, tNe:
			opTok := p.tok
			if err := p.advance(); err != nil {
				return operand{}, err
			}
			right, err := p.parseRel()
			if err != nil {
				return operand{}, err
			}
			if left.kind != anyKind && right.kind != anyKind && left.kind != right.kind {
				return operand{}, syntaxErr(opTok.pos, "'%s' cannot compare %s with %s", opTok.text, left.kind, right.kind)
			}
			n := &eqNode{l: left.n, r: right.n, neg: opTok.kind == tNe}
			if left, err = build(n, boolKind, left.pos, left, right); err != nil {
				return operand{}, err
			}
		case tIs:
			if err := p.advance(); err != nil {
				return operand{}, err
			}
			neg := p.tok.kind == tNot
			if neg {
				if err := p.advance(); err != nil {
					return operand{}, err
				}
			}
			if p.tok.kind != tNull {
				return operand{}, p.unexpected("NULL")
			}
			if err := p.advance(); err != nil {
				return operand{}, err
			}
			if left, err = build(&isNullNode{x: left.n, neg: neg}, boolKind, left.pos, left); err != nil {
				return operand{}, err
			}
		default:
			return left, nil
		}
	}
}
