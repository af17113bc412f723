package wire

import (
	"strconv"

	"github.com/go-stomp/stomp/v3/frame"
)

// AppendFrame encodes f onto buf. Headers are escaped for 1.1+ connections
// except in CONNECTED, as the specification requires; MESSAGE and ERROR
// frames without a content-length get one, so their bodies may hold NULs.
func AppendFrame(buf []byte, f *frame.Frame, escape bool) []byte {
	buf = append(buf, f.Command...)
	buf = append(buf, '\n')
	esc := escape && f.Command != frame.CONNECTED
	hasLen := false
	for i := 0; i < f.Header.Len(); i++ {
		k, v := f.Header.GetAt(i)
		if k == frame.ContentLength {
			hasLen = true
		}
		buf = AppendHeader(buf, k, v, esc)
	}
	if !hasLen && (f.Command == frame.MESSAGE || f.Command == frame.ERROR) {
		buf = append(buf, "content-length:"...)
		buf = strconv.AppendInt(buf, int64(len(f.Body)), 10)
		buf = append(buf, '\n')
	}
	buf = append(buf, '\n')
	buf = append(buf, f.Body...)
	return append(buf, 0)
}

// AppendHeader encodes one header line onto buf, escaped when esc is set.
// Without escaping (STOMP 1.0, CONNECTED) CR and LF become spaces: 1.0 has
// no way to carry them, and a raw one would end the header.
func AppendHeader(buf []byte, k, v string, esc bool) []byte {
	buf = appendEscaped(buf, k, esc)
	buf = append(buf, ':')
	buf = appendEscaped(buf, v, esc)
	return append(buf, '\n')
}

func appendEscaped(buf []byte, s string, esc bool) []byte {
	if !esc {
		// 1.0 has no escaping; a raw newline would still break framing.
		for i := 0; i < len(s); i++ {
			if s[i] == '\n' || s[i] == '\r' {
				buf = append(buf, ' ')
			} else {
				buf = append(buf, s[i])
			}
		}
		return buf
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case ':':
			buf = append(buf, '\\', 'c')
		default:
			buf = append(buf, c)
		}
	}
	return buf
}
