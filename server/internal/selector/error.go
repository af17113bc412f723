package selector

import "fmt"

// SyntaxError reports a selector that Parse rejects: bad tokens, bad
// grammar, or operands whose types can never work (such as 'a' + 1).
type SyntaxError struct {
	// Pos is the byte offset in the selector where the problem starts;
	// it equals the selector's length for a problem at its end.
	Pos int
	// Msg says what is wrong, without the position.
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("selector: syntax error at offset %d: %s", e.Pos, e.Msg)
}

func syntaxErr(pos int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
