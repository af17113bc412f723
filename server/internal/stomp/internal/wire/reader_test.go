package wire

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/go-stomp/stomp/v3/frame"
)

func TestReadFrames(t *testing.T) {
	frames, err := readAll([]byte(seeds[0]+seeds[2]+"\n\r\n"+seeds[4]+seeds[11]), 1<<20, true)
	if !errors.Is(err, io.EOF) || len(frames) != 4 {
		t.Fatalf("got %d frames, %v", len(frames), err)
	}
	if got := frames[0].Header.Get(frame.Passcode); got != "pa:ss" {
		t.Errorf("CONNECT is not unescaped, and a colon in a value is kept: %q", got)
	}
	if string(frames[1].Body) != "abc" || string(frames[2].Body) != "a\x00b\x00c" {
		t.Errorf("bodies: %q %q", frames[1].Body, frames[2].Body)
	}
	if got := frames[3].Header.Get("h"); got != "a:\n\r\\b" {
		t.Errorf("1.2 escapes: %q", got)
	}
	dup, _ := readAll([]byte(seeds[16]), 1<<20, true)
	if dup[0].Header.Get("k") != "v1" || dup[0].Header.Len() != 2 {
		t.Errorf("repeated header: the first wins and all are kept: %v", dup[0].Header)
	}
	crlf, _ := readAll([]byte(seeds[15]), 1<<20, true)
	if crlf[0].Header.Get(frame.Destination) != "/queue/a" {
		t.Errorf("CRLF lines: %v", crlf[0].Header)
	}
}

func TestReadRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		in    string
		limit int
		want  error
	}{
		"unknown command":         {"FOO\n\n\x00", 1024, ErrBadFrame},
		"server command":          {seeds[17], 1024, ErrBadFrame},
		"undefined escape":        {seeds[14], 1024, ErrBadFrame},
		"lone backslash":          {"SEND\nh:a\\\n\n\x00", 1024, ErrBadFrame},
		"header without colon":    {"SEND\nnocolon\n\n\x00", 1024, ErrBadFrame},
		"empty header name":       {"SEND\n:v\n\n\x00", 1024, ErrBadFrame},
		"bad content-length":      {"SEND\ncontent-length:-1\n\n\x00", 1024, ErrBadFrame},
		"no NUL after the length": {"SEND\ncontent-length:1\n\nab\x00", 1024, ErrBadFrame},
		"huge content-length":     {seeds[12], 1024, ErrFrameTooLarge},
		"body over the limit":     {"SEND\n\n" + strings.Repeat("x", 2000) + "\x00", 1024, ErrFrameTooLarge},
		"header over the limit":   {"SEND\nh:" + strings.Repeat("x", 2000) + "\n\n\x00", 1024, ErrFrameTooLarge},
		"too many headers":        {"SEND\n" + strings.Repeat("h:v\n", MaxHeaders+1) + "\n\x00", 1 << 20, ErrBadFrame},
		"truncated body (length)": {"SEND\ncontent-length:5\n\nab", 1024, io.ErrUnexpectedEOF},
		"truncated body (no NUL)": {"SEND\n\nabc", 1024, io.EOF},
		"truncated headers":       {"SEND\ndestination:/q", 1024, io.EOF},
	} {
		_, err := readAll([]byte(tc.in), tc.limit, true)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
	// Without escaping (1.0) a backslash is just a byte.
	fs, err := readAll([]byte(seeds[14]), 1024, false)
	if len(fs) != 1 || fs[0].Header.Get("h") != "\\q" || !errors.Is(err, io.EOF) {
		t.Errorf("1.0 backslash: %v %v", fs, err)
	}
}

func TestAppendFrame(t *testing.T) {
	f := frame.New(frame.MESSAGE, "destination", "/queue/a:b", "note", "line1\nline2")
	f.Body = []byte("x\x00y")
	if got := string(AppendFrame(nil, f, true)); got != "MESSAGE\ndestination:/queue/a\\cb\nnote:line1\\nline2\ncontent-length:3\n\nx\x00y\x00" {
		t.Errorf("1.2: %q", got)
	}
	if got := string(AppendFrame(nil, f, false)); got != "MESSAGE\ndestination:/queue/a:b\nnote:line1 line2\ncontent-length:3\n\nx\x00y\x00" {
		t.Errorf("1.0: %q", got)
	}
	c := frame.New(frame.CONNECTED, "session", "a:b")
	if got := string(AppendFrame(nil, c, true)); got != "CONNECTED\nsession:a:b\n\n\x00" {
		t.Errorf("CONNECTED is never escaped: %q", got)
	}
}
