//go:build interop

package mqtt

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

// TestMosquittoRetainedRightAfterPublish: mosquitto_sub started the moment
// a watcher saw a retained QoS 0 message live gets it as retained.
func TestMosquittoRetainedRightAfterPublish(t *testing.T) {
	e := newEnv(t, Options{})
	host, port, _ := strings.Cut(e.addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	watch := exec.CommandContext(ctx, "mosquitto_sub", "-h", host, "-p", port, "-t", "mrace/#", "-v", "-i", "mosq-watch")
	stdout, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { watch.Process.Kill(); watch.Wait() }()
	lines := bufio.NewScanner(stdout)
	testutil.Eventually(t, waitFor, func() bool {
		for _, st := range e.b.Stats() {
			if st.Destination == "topic://mrace.>" && st.Consumers > 0 {
				return true
			}
		}
		return false
	}, "mosquitto_sub did not subscribe")
	for i := range 20 {
		topic, msg := fmt.Sprintf("mrace/%d", i), fmt.Sprintf("v%d", i)
		if out, err := exec.CommandContext(ctx, "mosquitto_pub", "-h", host, "-p", port, "-t", topic, "-m", msg, "-r", "-q", "0", "-i", "mosq-pub").CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, out)
		}
		for {
			if !lines.Scan() {
				t.Fatalf("watcher ended: %v", lines.Err())
			}
			if lines.Text() == topic+" "+msg {
				break
			}
		}
		out, err := exec.CommandContext(ctx, "mosquitto_sub", "-h", host, "-p", port, "-t", topic, "-C", "1", "-W", "5", "-i", "mosq-late").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != msg {
			t.Fatalf("round %d: late subscriber got %q (%v), want the retained %q", i, out, err, msg)
		}
	}
}

// TestMosquittoPersistentQoS2Session: mosquitto_sub with a persistent
// session (-c) at QoS 2 gets what was published while it was away,
// exactly once, after reconnecting.
func TestMosquittoPersistentQoS2Session(t *testing.T) {
	e := newEnv(t, Options{})
	host, port, _ := strings.Cut(e.addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sub := func(count int) string {
		out, err := exec.CommandContext(ctx, "mosquitto_sub", "-h", host, "-p", port, "-t", "mq2/#", "-q", "2", "-c",
			"-i", "mosq-persistent", "-C", fmt.Sprint(count), "-W", "10", "-v").CombinedOutput()
		if err != nil {
			return fmt.Sprintf("mosquitto_sub failed: %v %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	pub := func(topic, msg string) {
		if out, err := exec.CommandContext(ctx, "mosquitto_pub", "-h", host, "-p", port, "-t", topic, "-m", msg, "-q", "2", "-i", "mosq-pub2").CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, out)
		}
	}
	// Create the session and its subscription: the first run gets one
	// message published once it is subscribed.
	done := make(chan string, 1)
	go func() { done <- sub(1) }()
	testutil.Eventually(t, waitFor, func() bool {
		s, ok := e.subscriptionStats(durableName("mq2/#"))
		return ok && s.Consumers > 0
	}, "mosquitto_sub did not subscribe")
	pub("mq2/a", "first")
	if got := <-done; got != "mq2/a first" {
		t.Fatalf("first run got %q", got)
	}
	waitGone(t, e)
	pub("mq2/b", "while-away-1")
	pub("mq2/c", "while-away-2")
	if got := sub(2); got != "mq2/b while-away-1\nmq2/c while-away-2" {
		t.Fatalf("after reconnect got %q", got)
	}
}
