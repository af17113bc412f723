package stomp

import (
	"strings"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/tethermq/tether/server/internal/broker"
)

// A STOMP client over maximumConnections gets an ERROR naming the limit in
// answer to its CONNECT, which go-stomp reports as the dial's error.
func TestMaximumConnectionsRefusalReachesTheClient(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{MaxConnections: 1})
	tb.dial()
	_, err := gostomp.Dial("tcp", tb.addr, gostomp.ConnOpt.HeartBeat(0, 0), gostomp.ConnOpt.Logger(nopLogger{}))
	if err == nil || !strings.Contains(err.Error(), "maximum connections (1) reached") {
		t.Fatalf("dial over the limit: %v", err)
	}
	if n := tb.srv.Connections(); n != 1 {
		t.Fatalf("Connections = %d, want 1 (refusals are not counted)", n)
	}
}

// A client that sends nothing is answered once the refusal's wait for its
// CONNECT (bounded by ConnectTimeout) runs out.
func TestMaximumConnectionsSilentClient(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{MaxConnections: 1, ConnectTimeout: 200 * time.Millisecond})
	tb.dial()
	dialRaw(t, tb.addr).expectErrorAndClose("maximum connections (1) reached")
}

// Close returns at once the second time, and with refusals under way.
func TestCloseTwiceWithRefusalUnderWay(t *testing.T) {
	tb := startBroker(t, broker.Config{}, Options{MaxConnections: 1})
	tb.dial()
	silent := dialRaw(t, tb.addr) // its refusal waits for a CONNECT
	_ = silent
	done := make(chan error, 2)
	go func() { done <- tb.srv.Close(); done <- tb.srv.Close() }()
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(3 * time.Second): // well under the refusal's 5 s wait
			t.Fatal("Close waited for a refusal")
		}
	}
}
