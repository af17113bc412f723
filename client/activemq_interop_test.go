//go:build interop

package client_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/testutil"
)

// activemq runs one instance of ../shared/activemq's real ActiveMQ 5.17.
type activemq struct {
	t             *testing.T
	scripts, name string
	port          int
	env           []string
	dataDir       string
}

func (a *activemq) start() {
	a.t.Helper()
	cmd := exec.Command("bash", filepath.Join(a.scripts, "start.sh"), a.name, strconv.Itoa(a.port), "0", "0", "0", a.dataDir)
	cmd.Env = append(os.Environ(), a.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		a.t.Fatalf("start ActiveMQ %s: %v\n%s", a.name, err, out)
	}
}

func (a *activemq) kill() {
	cmd := exec.Command("bash", filepath.Join(a.scripts, "stop.sh"), a.name, "-9")
	cmd.Env = append(os.Environ(), a.env...)
	_ = cmd.Run()
}

// TestSDKAgainstActiveMQPairKill9 runs the failover contract against real
// ActiveMQ 5.17: a shared-KahaDB master/slave pair over STOMP, the master
// killed with SIGKILL while a producer and a consumer run. ActiveMQ's STOMP
// has no duplicate detection, so sends re-sent after the failover may be
// stored twice; the SDK's consumer drops the second copy (same producer
// duplicate id, another message id), and the application sees every
// confirmed send exactly once.
func TestSDKAgainstActiveMQPairKill9(t *testing.T) {
	scripts := testutil.ActiveMQScripts(t)
	runRoot, data := t.TempDir(), t.TempDir()
	env := []string{"AMQ_RUN_ROOT=" + runRoot, "AMQ_LOCK_INTERVAL_MS=200", "AMQ_HEAP=256m"}
	m1 := &activemq{t: t, scripts: scripts, name: "tether-it-1", port: testutil.FreePort(t), env: env, dataDir: data}
	m2 := &activemq{t: t, scripts: scripts, name: "tether-it-2", port: testutil.FreePort(t), env: env, dataDir: data}
	t.Cleanup(m1.kill)
	t.Cleanup(m2.kill)
	m1.start()
	m2.start() // waits until it reports SLAVE

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	uri := fmt.Sprintf("failover:(tcp://127.0.0.1:%d,tcp://127.0.0.1:%d)?randomize=false&maxReconnectDelay=200", m1.port, m2.port)
	var storedTwice, inDoubt, interrupted atomic.Int64
	handler := func(e client.Event) {
		switch {
		case e.Kind == client.EventDuplicateDropped && e.DuplicateID != "":
			storedTwice.Add(1)
		case e.Kind == client.EventDuplicateDropped:
			inDoubt.Add(1)
		case e.Kind == client.EventInterrupted:
			interrupted.Add(1)
		}
	}
	cons, err := client.Dial(ctx, uri, client.WithEventHandler(handler))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	prod, err := client.Dial(ctx, uri, client.WithEventHandler(handler))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	sub, err := cons.Subscribe(ctx, "queue://tether.interop", client.AckIndividual, client.Prefetch(50))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	go func() {
		for {
			m, err := sub.Next(ctx)
			if err != nil {
				return
			}
			if m.Ack(ctx) != nil {
				return
			}
			mu.Lock()
			got[string(m.Body())]++
			mu.Unlock()
		}
	}()
	const n = 600
	confirmed := map[string]bool{}
	for i := range n {
		if i == n/3 {
			m1.kill() // the master dies mid-stream; the slave takes over
		}
		body := "m-" + strconv.Itoa(i)
		if err := prod.Send(ctx, "queue://tether.interop", []byte(body), client.Persistent()); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		confirmed[body] = true
	}
	testutil.Eventually(t, 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for b := range confirmed {
			if got[b] == 0 {
				return false
			}
		}
		return true
	}, "every confirmed send received")
	mu.Lock()
	defer mu.Unlock()
	for b, c := range got {
		if c != 1 {
			t.Errorf("%s handed to the application %d times", b, c)
		}
	}
	if interrupted.Load() < 2 {
		t.Errorf("%d interruptions reported, want one per connection", interrupted.Load())
	}
	t.Logf("ActiveMQ pair, master SIGKILLed at message %d of %d: %d confirmed, %d received once each; "+
		"second stored copies of re-sent messages dropped by the SDK: %d; redeliveries of in-doubt acks dropped: %d",
		n/3, n, len(confirmed), len(got), storedTwice.Load(), inDoubt.Load())
}
