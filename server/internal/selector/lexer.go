package selector

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tNot
	tAnd
	tOr
	tBetween
	tLike
	tEscape
	tIn
	tIs
	tTrue
	tFalse
	tNull
	tLParen
	tRParen
	tComma
	tEq
	tNe
	tLt
	tLe
	tGt
	tGe
	tPlus
	tMinus
	tStar
	tSlash
	tPercent
)

var keywords = []struct {
	word string
	kind tokKind
}{
	{"NOT", tNot}, {"AND", tAnd}, {"OR", tOr}, {"BETWEEN", tBetween},
	{"LIKE", tLike}, {"ESCAPE", tEscape}, {"IN", tIn}, {"IS", tIs},
	{"TRUE", tTrue}, {"FALSE", tFalse}, {"NULL", tNull},
}

// token is one lexeme. text is the source text, except for string literals
// (the decoded value) and integer literals (the digits without prefix or
// L suffix, in base).
type token struct {
	kind tokKind
	pos  int
	text string
	base uint64 // integer literals: 8, 10 or 16; 0 for a decimal-point literal
}

// describe names a token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of selector"
	case tIdent:
		return "identifier " + t.text
	case tString:
		return "string literal"
	case tNumber:
		return "number"
	}
	if t.kind >= tNot && t.kind <= tNull {
		return t.text
	}
	return "'" + t.text + "'"
}

type lexer struct {
	src string
	pos int
}

// next returns the next token, skipping white space and comments.
func (l *lexer) next() (token, error) {
	if err := l.skip(); err != nil {
		return token{}, err
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.src[start]
	switch {
	case c == '\'':
		return l.stringLit()
	case isDigit(c) || c == '.' && start+1 < len(l.src) && isDigit(l.src[start+1]):
		return l.number()
	}
	if r, w := utf8.DecodeRuneInString(l.src[start:]); isIdentStart(r) {
		return l.word(w), nil
	}
	return l.operator()
}

func (l *lexer) skip() error {
	for l.pos < len(l.src) {
		switch rest := l.src[l.pos:]; {
		case rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r' || rest[0] == '\f':
			l.pos++
		case strings.HasPrefix(rest, "--"):
			if end := strings.IndexAny(rest, "\r\n"); end >= 0 {
				l.pos += end
			} else {
				l.pos = len(l.src)
			}
		case strings.HasPrefix(rest, "/*"):
			end := strings.Index(rest[2:], "*/")
			if end < 0 {
				return syntaxErr(l.pos, "unterminated comment: /* without */")
			}
			l.pos += 2 + end + 2
		default:
			return nil
		}
	}
	return nil
}

func isIdentStart(r rune) bool { return r == '_' || r == '$' || unicode.IsLetter(r) }

func isIdentPart(r rune) bool { return isIdentStart(r) || unicode.IsDigit(r) }

// word reads an identifier or keyword whose first rune is w bytes long.
func (l *lexer) word(w int) token {
	start := l.pos
	l.pos += w
	for l.pos < len(l.src) {
		r, w := utf8.DecodeRuneInString(l.src[l.pos:])
		if !isIdentPart(r) {
			break
		}
		l.pos += w
	}
	text := l.src[start:l.pos]
	for _, k := range keywords {
		if asciiEqualFold(text, k.word) {
			return token{kind: k.kind, pos: start, text: k.word}
		}
	}
	return token{kind: tIdent, pos: start, text: text}
}

// stringLit reads a quoted string; a doubled quote stands for one quote.
func (l *lexer) stringLit() (token, error) {
	start := l.pos
	var b strings.Builder
	i := start + 1
	for {
		end := strings.IndexByte(l.src[i:], '\'')
		if end < 0 {
			return token{}, syntaxErr(start, "unterminated string literal")
		}
		b.WriteString(l.src[i : i+end])
		i += end + 1
		if i < len(l.src) && l.src[i] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		l.pos = i
		return token{kind: tString, pos: start, text: b.String()}, nil
	}
}

// number reads an integer (decimal, 0x hexadecimal, or octal with a leading
// zero, each with an optional L suffix) or a decimal-point literal.
func (l *lexer) number() (token, error) {
	start := l.pos
	src := l.src
	tok := token{kind: tNumber, pos: start}
	if strings.HasPrefix(src[start:], "0x") || strings.HasPrefix(src[start:], "0X") {
		l.pos += 2
		l.scan(isHexDigit)
		if l.pos == start+2 {
			return token{}, syntaxErr(start, "hexadecimal literal needs digits after 0x")
		}
		tok.text, tok.base = src[start+2:l.pos], 16
		l.longSuffix()
		return tok, l.endOfNumber(start)
	}
	l.scan(isDigit)
	point := false
	if l.pos < len(src) && src[l.pos] == '.' {
		point = true
		l.pos++
		l.scan(isDigit)
	}
	if l.exponent() {
		point = true
	}
	tok.text = src[start:l.pos]
	switch {
	case point:
		tok.base = 0
	case len(tok.text) > 1 && tok.text[0] == '0':
		tok.text, tok.base = tok.text[1:], 8
		if strings.ContainsAny(tok.text, "89") {
			return token{}, syntaxErr(start, "invalid octal literal %s: a leading 0 means octal", src[start:l.pos])
		}
		l.longSuffix()
	default:
		tok.base = 10
		l.longSuffix()
	}
	return tok, l.endOfNumber(start)
}

func (l *lexer) scan(ok func(byte) bool) {
	for l.pos < len(l.src) && ok(l.src[l.pos]) {
		l.pos++
	}
}

// exponent consumes E[+-]digits if it is there in full.
func (l *lexer) exponent() bool {
	i := l.pos
	if i >= len(l.src) || (l.src[i] != 'e' && l.src[i] != 'E') {
		return false
	}
	i++
	if i < len(l.src) && (l.src[i] == '+' || l.src[i] == '-') {
		i++
	}
	if i >= len(l.src) || !isDigit(l.src[i]) {
		return false
	}
	l.pos = i
	l.scan(isDigit)
	return true
}

func (l *lexer) longSuffix() {
	if l.pos < len(l.src) && (l.src[l.pos] == 'l' || l.src[l.pos] == 'L') {
		l.pos++
	}
}

// endOfNumber refuses a number glued to letters or another point (5x, 1.2.3):
// splitting it into two tokens would only produce a more confusing error.
func (l *lexer) endOfNumber(start int) error {
	if l.pos >= len(l.src) {
		return nil
	}
	if r, _ := utf8.DecodeRuneInString(l.src[l.pos:]); r == '.' || isIdentPart(r) {
		end := l.pos
		for end < len(l.src) {
			r, w := utf8.DecodeRuneInString(l.src[end:])
			if r != '.' && !isIdentPart(r) {
				break
			}
			end += w
		}
		return syntaxErr(start, "malformed number %s", l.src[start:end])
	}
	return nil
}

func isHexDigit(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

var operators = []struct {
	text string
	kind tokKind
}{
	// Two-character operators first so that "<=" is not read as "<".
	{"<>", tNe}, {"<=", tLe}, {">=", tGe},
	{"=", tEq}, {"<", tLt}, {">", tGt}, {"(", tLParen}, {")", tRParen},
	{",", tComma}, {"+", tPlus}, {"-", tMinus}, {"*", tStar}, {"/", tSlash},
	{"%", tPercent},
}

func (l *lexer) operator() (token, error) {
	start := l.pos
	rest := l.src[start:]
	for _, op := range operators {
		if strings.HasPrefix(rest, op.text) {
			l.pos += len(op.text)
			return token{kind: op.kind, pos: start, text: op.text}, nil
		}
	}
	r, _ := utf8.DecodeRuneInString(rest)
	switch {
	case strings.HasPrefix(rest, "!="):
		return token{}, syntaxErr(start, "unexpected !=: not-equal is written <>")
	case r == '"':
		return token{}, syntaxErr(start, `unexpected character '"': string literals use single quotes`)
	default:
		return token{}, syntaxErr(start, "unexpected character %q", r)
	}
}
