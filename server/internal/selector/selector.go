package selector

import "strings"

// Selector is a compiled message selector. It is immutable and safe for
// concurrent use by any number of goroutines.
type Selector struct {
	root node
	text string
}

// Parse compiles a selector. An empty or all-white-space selector (comments
// count as white space) returns a nil *Selector, which matches every
// message. A selector that does not parse, or whose operand types can never
// work, returns a *SyntaxError.
func Parse(s string) (*Selector, error) {
	p := parser{lex: lexer{src: s}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return nil, nil
	}
	top, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.unexpected("an operator or the end of the selector")
	}
	root, err := condition(top, "the selector")
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	root.format(&b)
	return &Selector{root: root, text: b.String()}, nil
}

// noProperties is the lookup used when Matches is given none.
func noProperties(string) (any, bool) { return nil, false }

// Matches reports whether a message satisfies the selector, that is whether
// the selector evaluates to TRUE (not FALSE or UNKNOWN). get returns the
// value of a header or property and whether the message has it; a nil get
// means the message has none. A nil *Selector matches every message.
// Matches does not allocate, apart from what get itself does.
func (s *Selector) Matches(get func(name string) (any, bool)) bool {
	if s == nil {
		return true
	}
	if get == nil {
		get = noProperties
	}
	v := s.root.eval(get)
	return v.kind == kindBool && v.b
}

// String returns the selector in canonical form: keywords in upper case,
// numbers in decimal, single spaces, and only the parentheses the structure
// needs. Parsing the result yields an equivalent selector with the same
// String. A nil *Selector returns "".
func (s *Selector) String() string {
	if s == nil {
		return ""
	}
	return s.text
}
