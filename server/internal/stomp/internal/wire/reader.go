package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/go-stomp/stomp/v3/frame"
)

// Reader parses client frames with the limits a broker needs and
// go-stomp's reader lacks: a bounded frame size (its reader allocates
// whatever content-length claims), a bounded header count, strict 1.2
// escaping (an undefined escape is a protocol error) and no unescaping on
// 1.0 connections or in CONNECT frames, as the specification requires.
type Reader struct {
	r          *bufio.Reader
	maxFrame   int
	maxHeaders int
	escaping   bool // STOMP 1.1+ header escaping, after negotiation
}

// Errors that close the connection with an ERROR frame. Errors from the
// underlying reader (EOF, deadlines) are returned as they are.
var (
	ErrFrameTooLarge = errors.New("frame exceeds the maximum frame size")
	ErrBadFrame      = errors.New("malformed frame")
)

// MaxHeaders bounds the headers of one frame.
const MaxHeaders = 1000

// NewReader reads frames of at most maxFrame bytes (command, headers and
// body together) from r, which it buffers.
func NewReader(r io.Reader, maxFrame int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), maxFrame: maxFrame, maxHeaders: MaxHeaders}
}

// SetEscaping turns STOMP 1.1+ header unescaping on once CONNECT has
// negotiated such a version (CONNECT itself is never unescaped).
func (fr *Reader) SetEscaping(on bool) { fr.escaping = on }

// Read returns the next frame, or (nil, nil) for a heart-beat EOL.
func (fr *Reader) Read() (*frame.Frame, error) {
	budget := fr.maxFrame
	line, err := fr.line(&budget)
	if err != nil {
		return nil, err
	}
	if len(line) == 0 {
		return nil, nil
	}
	cmd := string(line)
	switch cmd {
	case frame.CONNECT, frame.STOMP, frame.SEND, frame.SUBSCRIBE, frame.UNSUBSCRIBE,
		frame.ACK, frame.NACK, frame.BEGIN, frame.COMMIT, frame.ABORT, frame.DISCONNECT:
	default:
		return nil, fmt.Errorf("%w: unknown command %q", ErrBadFrame, truncate(cmd, 40))
	}
	f := &frame.Frame{Command: cmd, Header: frame.NewHeader()}
	unescape := fr.escaping && cmd != frame.CONNECT && cmd != frame.STOMP
	for n := 0; ; n++ {
		line, err := fr.line(&budget)
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			break
		}
		if n >= fr.maxHeaders {
			return nil, fmt.Errorf("%w: more than %d headers", ErrBadFrame, fr.maxHeaders)
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return nil, fmt.Errorf("%w: header line without a name and colon", ErrBadFrame)
		}
		name, value := string(line[:i]), string(line[i+1:])
		if unescape {
			if name, err = unescapeValue(name); err != nil {
				return nil, err
			}
			if value, err = unescapeValue(value); err != nil {
				return nil, err
			}
		}
		// Repeated headers: the first one wins (STOMP 1.2 2.4); keep all
		// for fidelity, Get returns the first.
		f.Header.Add(name, value)
	}
	if cl, ok := f.Header.Contains(frame.ContentLength); ok {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: bad content-length %q", ErrBadFrame, truncate(cl, 20))
		}
		if n > budget {
			return nil, ErrFrameTooLarge
		}
		f.Body = make([]byte, n+1)
		if _, err := io.ReadFull(fr.r, f.Body); err != nil {
			return nil, err
		}
		if f.Body[n] != 0 {
			return nil, fmt.Errorf("%w: body not terminated by NUL after content-length", ErrBadFrame)
		}
		f.Body = f.Body[:n]
		return f, nil
	}
	var body []byte
	for {
		chunk, err := fr.r.ReadSlice(0)
		if len(chunk) > budget {
			return nil, ErrFrameTooLarge
		}
		budget -= len(chunk)
		body = append(body, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
	f.Body = body[:len(body)-1]
	return f, nil
}

// line reads one EOL-terminated line (LF or CRLF), charging it to budget.
func (fr *Reader) line(budget *int) ([]byte, error) {
	var out []byte
	for {
		chunk, err := fr.r.ReadSlice('\n')
		if len(chunk) > *budget {
			return nil, ErrFrameTooLarge
		}
		*budget -= len(chunk)
		if err == nil {
			if out == nil {
				out = chunk
			} else {
				out = append(out, chunk...)
			}
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		out = append(out, chunk...)
	}
	out = out[:len(out)-1]
	if n := len(out); n > 0 && out[n-1] == '\r' {
		out = out[:n-1]
	}
	return out, nil
}

func unescapeValue(s string) (string, error) {
	if !containsByte(s, '\\') {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("%w: header ends with a lone backslash", ErrBadFrame)
		}
		i++
		switch s[i] {
		case 'r':
			b = append(b, '\r')
		case 'n':
			b = append(b, '\n')
		case 'c':
			b = append(b, ':')
		case '\\':
			b = append(b, '\\')
		default:
			return "", fmt.Errorf("%w: undefined header escape \\%c", ErrBadFrame, s[i])
		}
	}
	return string(b), nil
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
