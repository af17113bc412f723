package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/testutil"
)

// Bad option values fail Dial before any connection attempt, naming the
// option, also when the URI sets the same option (the value is still
// wrong).
func TestTypedOptionsAreValidated(t *testing.T) {
	cases := []struct {
		name string
		uri  string
		opt  client.Option
		want string
	}{
		{"negative attempts", "tcp://127.0.0.1:1", client.MaxReconnectAttempts(-5), "maxReconnectAttempts"},
		{"sub-millisecond delay", "tcp://127.0.0.1:1", client.InitialReconnectDelay(1500 * time.Microsecond), "initialReconnectDelay"},
		{"max below initial", "tcp://127.0.0.1:1", client.MaxReconnectDelay(time.Millisecond), "maxReconnectDelay"},
		{"exponent below 1", "tcp://127.0.0.1:1", client.ReconnectDelayExponent(0.5), "reconnectDelayExponent"},
		{"jitter above 1", "tcp://127.0.0.1:1", client.ReconnectJitter(3), "reconnectJitter"},
		{"empty backup pool", "tcp://127.0.0.1:1", client.BackupPoolSize(0), "backupPoolSize"},
		{"zero connect timeout", "tcp://127.0.0.1:1", client.ConnectTimeout(0), "connectTimeout"},
		{"bad priority URI", "tcp://127.0.0.1:1", client.PriorityURIs("nohost"), "priorityURIs"},
		{"also when the URI wins", "failover:(tcp://127.0.0.1:1)?maxReconnectAttempts=2", client.MaxReconnectAttempts(-7), "maxReconnectAttempts"},
		{"send window", "tcp://127.0.0.1:1", client.WithSendWindow(0), "WithSendWindow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			c, err := client.Dial(ctx, tc.uri, tc.opt)
			if err == nil {
				c.Close()
				t.Fatal("Dial accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
			if time.Since(start) > time.Second {
				t.Errorf("took %v: the option should be refused before connecting", time.Since(start))
			}
		})
	}
}

// MaxReconnectAttempts(0) in code: one pass at start-up and no reconnect
// after a loss, so the Conn fails once the broker is gone.
func TestTypedMaxReconnectAttemptsApplies(t *testing.T) {
	b := startBroker(t, "typed")
	c, ev := dial(t, b.uri(), client.MaxReconnectAttempts(0), client.InitialReconnectDelay(5*time.Millisecond), client.ReconnectJitter(0))
	b.Stop()
	testutil.Eventually(t, 10*time.Second, func() bool { return ev.count(client.EventFailed) == 1 }, "the Conn did not give up")
	ctx := testCtx(t, 5*time.Second)
	if err := c.Send(ctx, "queue://x", nil); !errors.Is(err, client.ErrReconnectFailed) {
		t.Errorf("Send after giving up: %v", err)
	}
}

// The URI wins: maxReconnectAttempts=-1 in the URI overrides
// MaxReconnectAttempts(0) in code, so the Conn reconnects; an option the
// URI leaves out (timeout) is taken from code.
func TestURIWinsOverTypedOption(t *testing.T) {
	b := startBroker(t, "uri-wins")
	c, ev := dial(t, "failover:("+b.uri()+")?maxReconnectAttempts=-1&"+fast,
		client.MaxReconnectAttempts(0), client.FailoverTimeout(200*time.Millisecond))
	b.Stop()
	testutil.Eventually(t, 10*time.Second, func() bool { return ev.count(client.EventInterrupted) == 1 }, "not interrupted")
	ctx := testCtx(t, 10*time.Second)
	start := time.Now()
	if err := c.Send(ctx, "queue://x", nil); !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("Send while down: %v, want the 200 ms failover timeout from code", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timed out after %v", d)
	}
	b.Start()
	testutil.Eventually(t, 10*time.Second, func() bool { return ev.count(client.EventResumed) == 1 }, "did not reconnect: the URI's maxReconnectAttempts=-1 should win")
	if n := ev.count(client.EventFailed); n != 0 {
		t.Errorf("%d Failed events", n)
	}
}
