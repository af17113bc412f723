package wire

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/go-stomp/stomp/v3/frame"
)

// Frames as clients send them (go-stomp, stomp.py, stomp.js): the seed
// corpus of both fuzzers, and the cases of the table test.
var seeds = []string{
	"CONNECT\naccept-version:1.0,1.1,1.2\nhost:localhost\nlogin:admin\npasscode:pa:ss\nheart-beat:10000,10000\n\n\x00",
	"STOMP\naccept-version:1.2\nhost:/\n\n\x00\n",
	"SEND\ndestination:/queue/a\ncontent-type:text/plain\ncontent-length:3\n\nabc\x00",
	"SEND\ndestination:/queue/a\npersistent:true\nreceipt:r-1\n\nbody\x00\n\n",
	"SEND\ndestination:/queue/a\ncontent-length:5\n\na\x00b\x00c\x00",
	"SUBSCRIBE\nid:1\ndestination:/topic/x\nack:client-individual\nselector:a = 'b' AND c > 2\n\n\x00",
	"UNSUBSCRIBE\nid:1\nreceipt:77\n\n\x00",
	"ACK\nid:1:1:ID:x-1-1\ntransaction:tx1\n\n\x00",
	"NACK\nid:1:1:ID:x-1-2\n\n\x00",
	"BEGIN\ntransaction:tx1\n\n\x00COMMIT\ntransaction:tx1\n\n\x00ABORT\ntransaction:tx2\n\n\x00",
	"DISCONNECT\nreceipt:bye\n\n\x00",
	"SEND\nh:a\\c\\n\\r\\\\b\n\n\x00",
	"SEND\ncontent-length:999999999999\n\n",
	"\n\n\r\n",
	"SEND\nh:\\q\n\n\x00",
	"SEND\r\ndestination:/queue/a\r\n\r\n\x00",
	"SEND\nk:v1\nk:v2\n\n\x00",
	"CONNECTED\nversion:1.2\n\n\x00",
}

// readAll reads frames until an error; heart-beats are skipped.
func readAll(data []byte, limit int, escaping bool) ([]*frame.Frame, error) {
	fr := NewReader(bytes.NewReader(data), limit)
	fr.SetEscaping(escaping)
	var out []*frame.Frame
	for range 100 {
		f, err := fr.Read()
		if err != nil {
			return out, err
		}
		if f != nil {
			out = append(out, f)
		}
	}
	return out, nil
}

// encodable is how f's headers come back from AppendFrame and Read with
// the given escaping: without it, CR and LF (which 1.0 cannot carry)
// become spaces.
func encodable(f *frame.Frame, esc bool) *frame.Frame {
	g := &frame.Frame{Command: f.Command, Header: frame.NewHeader(), Body: f.Body}
	for i := range f.Header.Len() {
		k, v := f.Header.GetAt(i)
		if !esc {
			k, v = spaced(k), spaced(v)
		}
		g.Header.Add(k, v)
	}
	return g
}

func spaced(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }

func sameFrame(a, b *frame.Frame) bool {
	if a.Command != b.Command || !bytes.Equal(a.Body, b.Body) || a.Header.Len() != b.Header.Len() {
		return false
	}
	for i := range a.Header.Len() {
		ak, av := a.Header.GetAt(i)
		bk, bv := b.Header.GetAt(i)
		if ak != bk || av != bv {
			return false
		}
	}
	return true
}

// FuzzRead feeds arbitrary bytes to the reader. Properties: no panic; no
// frame beyond the limit; errors are the reader's own or the input's end;
// every frame read, encoded again, reads back the same.
func FuzzRead(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, escaping bool) {
		const limit = 4096
		frames, err := readAll(data, limit, escaping)
		if err != nil && !errors.Is(err, ErrBadFrame) && !errors.Is(err, ErrFrameTooLarge) &&
			!errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		for _, fm := range frames {
			if len(fm.Body) > limit {
				t.Fatalf("body of %d bytes passed a %d-byte limit", len(fm.Body), limit)
			}
			if fm.Header.Len() > MaxHeaders {
				t.Fatalf("%d headers passed the %d limit", fm.Header.Len(), MaxHeaders)
			}
			// CONNECT and STOMP are never unescaped, so they are written
			// back as they came.
			esc := escaping && fm.Command != frame.CONNECT && fm.Command != frame.STOMP
			enc := AppendFrame(nil, fm, esc)
			back, err := readAll(enc, 2*len(enc)+64, escaping)
			if len(back) != 1 || !errors.Is(err, io.EOF) {
				t.Fatalf("re-read of %q: %d frames, %v", enc, len(back), err)
			}
			if want := encodable(fm, esc); !sameFrame(back[0], want) {
				t.Fatalf("round trip:\n got %q %v %q\nwant %q %v %q", back[0].Command, back[0].Header, back[0].Body,
					want.Command, want.Header, want.Body)
			}
		}
	})
}

// FuzzAppendFrame encodes frames made of arbitrary headers and bodies with
// escaping, as the broker writes them to 1.1+ clients, and reads them
// back: the headers and body must survive whatever bytes they hold.
func FuzzAppendFrame(f *testing.F) {
	f.Add(uint8(2), "destination", "/queue/a:b\\c\nd\r", "k", "", []byte("body\x00with nul"))
	f.Add(uint8(0), "accept-version", "1.2", "host", "/", []byte(nil))
	f.Add(uint8(5), "id", "sub-1", "selector", "a = 'x:y'", []byte{})
	f.Fuzz(func(t *testing.T, cmd uint8, k1, v1, k2, v2 string, body []byte) {
		cmds := []string{frame.SEND, frame.SUBSCRIBE, frame.UNSUBSCRIBE, frame.ACK, frame.NACK,
			frame.BEGIN, frame.COMMIT, frame.ABORT, frame.DISCONNECT}
		if k1 == "" || k2 == "" || k1 == frame.ContentLength || k2 == frame.ContentLength {
			return // a header without a name is not one; content-length is ours to set
		}
		fm := frame.New(cmds[int(cmd)%len(cmds)], k1, v1, k2, v2, frame.ContentLength, strconv.Itoa(len(body)))
		fm.Body = body
		enc := AppendFrame(nil, fm, true)
		back, err := readAll(enc, len(enc), true)
		if len(back) != 1 || !errors.Is(err, io.EOF) {
			t.Fatalf("read of %q: %d frames, %v", enc, len(back), err)
		}
		if !sameFrame(back[0], fm) {
			t.Fatalf("round trip:\n got %v %q\nwant %v %q", back[0].Header, back[0].Body, fm.Header, fm.Body)
		}
	})
}
