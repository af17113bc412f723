package stomp

import (
	"bytes"
	"testing"

	"github.com/tethermq/tether/server/internal/stomp/internal/wire"
)

// FuzzFrameReader feeds arbitrary bytes to the frame reader: it must never
// panic, never allocate beyond the frame size limit, and either return
// frames or an error.
func FuzzFrameReader(f *testing.F) {
	seeds := []string{
		"CONNECT\naccept-version:1.2\n\n\x00",
		"SEND\ndestination:/queue/a\ncontent-length:3\n\nabc\x00",
		"SEND\ndestination:/queue/a\n\nbody\x00\n\n",
		"SUBSCRIBE\nid:1\ndestination:/topic/x\nselector:a = 'b'\n\n\x00",
		"ACK\nid:1:1:ID:x-1-1\n\n\x00",
		"SEND\nh:a\\c\\n\\r\\\\b\n\n\x00",
		"SEND\ncontent-length:999999999999\n\n",
		"\n\n\r\n",
		"SEND\nh:\\q\n\n\x00",
		"SEND\r\ndestination:/queue/a\r\n\r\n\x00",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := wire.NewReader(bytes.NewReader(data), 4096)
		fr.SetEscaping(len(data)%2 == 0)
		for range 100 {
			fm, err := fr.Read()
			if err != nil {
				return
			}
			if fm != nil && len(fm.Body) > 4096 {
				t.Fatalf("body of %d bytes passed a 4096-byte limit", len(fm.Body))
			}
			if fm != nil {
				if _, err := messageFromSend(fm); err != nil {
					continue
				}
			}
		}
	})
}
