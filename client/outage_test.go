package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/client/stomp"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server"
)

// TestTimeoutWhileDisconnected: with timeout=300 a send waits that long for
// a connection, then fails with ErrTimeout.
func TestTimeoutWhileDisconnected(t *testing.T) {
	b := startBroker(t, "down")
	c, _ := dial(t, "failover:("+b.uri()+")?timeout=300&"+fast)
	b.Stop()
	testutil.Eventually(t, 10*time.Second, func() bool { return !c.Stats().Connected }, "still connected")
	start := time.Now()
	err := c.Send(testCtx(t, 10*time.Second), "queue://q", []byte("x"))
	elapsed := time.Since(start)
	if !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if elapsed < 250*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("timed out after %v, want about 300ms", elapsed)
	}
	// The context bounds the wait too, with its own error.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = c.Send(ctx, "queue://q", []byte("x"))
	if !errors.Is(err, client.ErrDisconnected) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ctx expiry: %v", err)
	}
}

// TestHostilePeersAreSkipped: a peer that accepts TCP and never answers, and
// one that accepts and resets, are failed attempts; the client moves on
// within connectTimeout.
func TestHostilePeersAreSkipped(t *testing.T) {
	silent, reset := silentPeer(t), resetPeer(t)
	b := startBroker(t, "real")
	start := time.Now()
	c, _ := dial(t, "failover:("+silent.uri()+","+reset.uri()+","+b.uri()+")?connectTimeout=300&"+fast)
	elapsed := time.Since(start)
	if c.URI() != b.uri() {
		t.Fatalf("connected to %s", c.URI())
	}
	if silent.hits.Load() != 1 || reset.hits.Load() != 1 {
		t.Errorf("hits: silent %d reset %d", silent.hits.Load(), reset.hits.Load())
	}
	if elapsed < 300*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("took %v; the silent peer should cost one connectTimeout (300ms)", elapsed)
	}

	for name, h := range map[string]*hostile{"silent": silent, "reset": reset} {
		start := time.Now()
		_, err := client.Dial(testCtx(t, 10*time.Second), "failover:("+h.uri()+")?maxReconnectAttempts=0&connectTimeout=300")
		if !errors.Is(err, client.ErrReconnectFailed) {
			t.Errorf("%s: err = %v", name, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: gave up after %v", name, d)
		}
		if name == "silent" && !strings.Contains(fmt.Sprint(err), "connectTimeout") {
			t.Errorf("silent: error does not say why: %v", err)
		}
	}
}

// TestSilentBrokerDetectedWithinTwoHeartBeats: a peer that completes the
// handshake with heart-beats and then says nothing is declared dead within
// two intervals.
func TestSilentBrokerDetectedWithinTwoHeartBeats(t *testing.T) {
	peer := listenHostile(t, func(h *hostile, c net.Conn) {
		h.mu.Lock()
		h.held = append(h.held, c)
		h.mu.Unlock()
		go func() {
			r, w := frame.NewReader(c), frame.NewWriter(c)
			if _, err := r.Read(); err != nil {
				return
			}
			_ = w.Write(frame.New(frame.CONNECTED, frame.Version, "1.2", frame.HeartBeat, "100,100"))
			for { // read on, answer nothing
				if _, err := r.Read(); err != nil {
					return
				}
			}
		}()
	})
	ev := &events{}
	connected := time.Now()
	c, err := client.Dial(testCtx(t, 10*time.Second), "failover:("+peer.uri()+")?"+fast,
		client.WithHeartBeat(100*time.Millisecond, 100*time.Millisecond), client.WithEventHandler(ev.handler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testutil.Eventually(t, 5*time.Second, func() bool { return ev.count(client.EventInterrupted) > 0 }, "silence not detected")
	at := ev.of(client.EventInterrupted)[0].Time.Sub(connected)
	if at < 150*time.Millisecond || at > time.Second {
		t.Errorf("detected after %v, want about two intervals (200ms)", at)
	}
	if !strings.Contains(fmt.Sprint(ev.of(client.EventInterrupted)[0].Err), "heart-beat") {
		t.Errorf("cause %v does not mention heart-beats", ev.of(client.EventInterrupted)[0].Err)
	}
}

// TestDialWaitsForItsContext: with the default startup limit (forever),
// Dial keeps making passes until its context ends.
func TestDialWaitsForItsContext(t *testing.T) {
	port := testutil.FreePort(t) // nothing listens there
	ev := &events{}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := client.Dial(ctx, fmt.Sprintf("failover:(tcp://127.0.0.1:%d)?%s", port, fast), client.WithEventHandler(ev.handler))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if ev.count(client.EventReconnectFailed) < 2 {
		t.Errorf("%d failed passes before giving up; want several", ev.count(client.EventReconnectFailed))
	}
}

func TestBadCredentialsFailDialAtOnce(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	b := startBroker(t, "auth", server.User{Username: "app", Password: "secret"})
	_, err := client.Dial(ctx, "failover:("+b.uri()+")", client.WithCredentials("app", "wrong"))
	var be *client.BrokerError
	if !errors.As(err, &be) || be.Op != "connect" {
		t.Fatalf("err = %v, want the broker's connect refusal", err)
	}
	c, err := client.Dial(ctx, "failover:("+b.uri()+")", client.WithCredentials("app", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestDialRefusals(t *testing.T) {
	ctx := testCtx(t, 5*time.Second)
	cases := []struct {
		uri  string
		is   error
		frag string
	}{
		{"static:(tcp://h:1)", client.ErrInvalidURI, "network connectors"},
		{"gopher://h:1", nil, "unknown scheme"},
		{"failover:(tcp://h:1?bogus=1)", client.ErrInvalidURI, "bogus"},
		{"failover:(tcp://h:1)?backOffMultiplier=2", client.ErrInvalidURI, "reconnectDelayExponent"},
	}
	_, err := client.Dial(ctx, "failover:(tcp://h:1,custom://h:2)", client.WithDialer("custom", stomp.Dialer{}))
	if err == nil || !strings.Contains(err.Error(), "mixes protocols") {
		t.Errorf("mixed protocols: %v", err)
	}
	for _, tc := range cases {
		_, err := client.Dial(ctx, tc.uri)
		if err == nil {
			t.Errorf("%s: accepted", tc.uri)
			continue
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: %v is not %v", tc.uri, err, tc.is)
		}
		if !strings.Contains(err.Error(), tc.frag) {
			t.Errorf("%s: %q does not mention %q", tc.uri, err, tc.frag)
		}
	}
}
