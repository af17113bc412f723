package wirebuf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

func pair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	c := New(nc)
	t.Cleanup(func() { c.Close(); peer.Close() })
	return c, peer
}

// Frames written one by one arrive whole and in order, and Close puts what
// is still queued on the wire before closing.
func TestOrderAndCloseFlushes(t *testing.T) {
	c, peer := pair(t)
	var want bytes.Buffer
	for i := range 5000 {
		frame := fmt.Appendf(nil, "frame-%d\n", i)
		want.Write(frame)
		if _, err := c.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan []byte, 1)
	go func() {
		_ = peer.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("read %d bytes, want %d in order", len(b), want.Len())
	}
	if _, err := c.Write([]byte("late")); err == nil {
		t.Error("Write after Close succeeded")
	}
}

// A peer that stops reading makes Write wait for room, bounded by the
// write deadline; a dead peer fails later writes.
func TestBackPressureAndFailure(t *testing.T) {
	c, peer := pair(t)
	_ = c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
	chunk := make([]byte, 64<<10)
	var err error
	for range 1000 { // far more than the socket buffers and MaxQueued hold
		if _, err = c.Write(chunk); err != nil {
			break
		}
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("writing to a peer that does not read: %v, want the deadline", err)
	}
	peer.Close()
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := c.Write([]byte("x"))
		return err != nil
	}, "writes still succeed after the connection failed")
}
