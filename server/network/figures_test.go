package network_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/proctest"
	"github.com/tethermq/tether/internal/testutil"
)

// TestBridgeFigures measures one bridge between two refbroker processes:
// messages per second, persistent and not, and how long the bridge takes
// to re-form after the remote is SIGKILLed and restarted. With
// TETHER_BENCH_ACTIVEMQ naming the scripts of ../shared/activemq, the same
// measurements run against two ActiveMQ 5.17 brokers (static:, not duplex)
// in the same run:
//
//	TETHER_BENCH_ACTIVEMQ=/work/shared/activemq TETHER_BENCH_MESSAGES=5000 \
//	    go test -run TestBridgeFigures -v ./server/network/
//
// Method: N messages of 1 KiB are stored on A while no broker has a
// consumer; then a consumer subscribes on B and the clock runs until it
// has all N, so the figure is the bridge's (A's dispatch, the forward, B's
// store and delivery), not the producer's. Re-forming is timed from the
// moment the restarted remote serves to the arrival at B of a message sent
// to A after the restart.
func TestBridgeFigures(t *testing.T) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("TETHER_BENCH_MESSAGES")); err == nil && v > 0 {
		n = v
	}
	tether := newRefbrokerPair(t, false)
	pairs := []pair{tether}
	if dir := os.Getenv("TETHER_BENCH_ACTIVEMQ"); dir != "" {
		pairs = append(pairs, newActiveMQPair(t, dir))
	}
	kind := map[bool]string{true: "persistent", false: "non-persistent"}
	for _, p := range pairs {
		for _, persistent := range []bool{true, false} {
			rate := bridgeRate(t, p.uriA(), p.uriB(), p.name(), n, persistent)
			t.Logf("%-8s %-14s %7.0f msgs/s across one bridge (%d x 1 KiB)", p.name(), kind[persistent], rate, n)
		}
		t.Logf("%-8s bridge re-formed %v after the remote restarted", p.name(), reform(t, p).Round(time.Millisecond))
	}
	// The duplex direction: A pulls from B for a consumer on A.
	duplex := newRefbrokerPair(t, true)
	for _, persistent := range []bool{true, false} {
		rate := bridgeRate(t, duplex.uriB(), duplex.uriA(), "tether duplex", n, persistent)
		t.Logf("tether   %-14s %7.0f msgs/s pulled by a duplex bridge (%d x 1 KiB)", kind[persistent], rate, n)
	}
}

// pair is two brokers, A bridged to B.
type pair interface {
	name() string
	uriA() string // client URIs
	uriB() string
	restartB(t *testing.T) // SIGKILL B, start it again; returns once it serves
}

// bridgeRate stores n messages on the broker at from, then times their
// arrival at a consumer on the broker at to.
func bridgeRate(t *testing.T, from, to, name string, n int, persistent bool) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dest := fmt.Sprintf("queue://figures-%v-%d", persistent, time.Now().UnixNano())
	body := make([]byte, 1024)
	var opts []client.SendOption
	if persistent {
		opts = append(opts, client.Persistent())
	}
	// Store N on A with a few producers.
	const producers = 4
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for w := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := client.Dial(ctx, from)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for i := w; i < n; i += producers {
				if err := c.Send(ctx, dest, body, opts...); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("%s: preload: %v", name, err)
	}
	cb, err := client.Dial(ctx, to)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	started := time.Now()
	sub, err := cb.Subscribe(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := sub.Next(ctx); err != nil {
			t.Fatalf("%s: received %d of %d: %v", name, i, n, err)
		}
	}
	elapsed := time.Since(started)
	_ = sub.Unsubscribe(ctx)
	return float64(n) / elapsed.Seconds()
}

func reform(t *testing.T, p pair) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dest := fmt.Sprintf("queue://reform-%d", time.Now().UnixNano())
	ca, err := client.Dial(ctx, p.uriA())
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	p.restartB(t)
	ready := time.Now()
	cb, err := client.Dial(ctx, p.uriB())
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	sub, err := cb.Subscribe(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	// Keep sending to A: the first arrival at B marks the bridge back.
	arrived := make(chan time.Time, 1)
	go func() {
		if _, err := sub.Next(ctx); err == nil {
			arrived <- time.Now()
		}
		close(arrived)
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case at, ok := <-arrived:
			if !ok {
				t.Fatalf("%s: no message crossed the re-formed bridge", p.name())
			}
			return at.Sub(ready)
		case <-tick.C:
			if err := ca.Send(ctx, dest, []byte("probe")); err != nil {
				t.Fatalf("%s: %v", p.name(), err)
			}
		}
	}
}

// refbrokerPair runs A and B as refbroker processes, A with static:(B) at
// the default reconnect options.
type refbrokerPair struct {
	dirB  string
	portA int
	portB int
	b     *proctest.Proc
}

func newRefbrokerPair(t *testing.T, duplex bool) *refbrokerPair {
	p := &refbrokerPair{dirB: t.TempDir(), portA: testutil.FreePort(t), portB: testutil.FreePort(t)}
	p.b = p.startB(t)
	a := proctest.Start(t, "A", "--broker-name", "A", "--data-directory", t.TempDir(), "--admin", "off",
		"--connector", fmt.Sprintf("native=tcp://127.0.0.1:%d", p.portA),
		"--network-connector", fmt.Sprintf("static:(tcp://127.0.0.1:%d)?duplex=%v", p.portB, duplex))
	a.WaitLog("network bridge established", 20*time.Second)
	return p
}

func (p *refbrokerPair) startB(t *testing.T) *proctest.Proc {
	b := proctest.Start(t, "B", "--broker-name", "B", "--data-directory", p.dirB, "--admin", "off",
		"--connector", fmt.Sprintf("native=tcp://127.0.0.1:%d", p.portB))
	b.WaitLog("refbroker B started", 20*time.Second)
	return b
}

func (p *refbrokerPair) name() string { return "tether" }
func (p *refbrokerPair) uriA() string { return fmt.Sprintf("tcp://127.0.0.1:%d", p.portA) }
func (p *refbrokerPair) uriB() string { return fmt.Sprintf("tcp://127.0.0.1:%d", p.portB) }
func (p *refbrokerPair) restartB(t *testing.T) {
	p.b.Kill()
	p.b = p.startB(t)
}

// activemqPair runs two ActiveMQ 5.17 brokers with the shared scripts; A
// has <networkConnector uri="static:(tcp://B)" duplex="false">.
type activemqPair struct {
	scripts, runRoot, dirA, dirB   string
	stompA, stompB, owireA, owireB int
}

func newActiveMQPair(t *testing.T, scripts string) *activemqPair {
	p := &activemqPair{scripts: scripts, runRoot: t.TempDir(), dirA: t.TempDir(), dirB: t.TempDir(),
		stompA: testutil.FreePort(t), stompB: testutil.FreePort(t), owireA: testutil.FreePort(t), owireB: testutil.FreePort(t)}
	t.Cleanup(func() {
		p.script(t, "stop.sh", "benchA", "-9")
		p.script(t, "stop.sh", "benchB", "-9")
	})
	p.startB(t)
	p.script(t, "start.sh", "benchA", strconv.Itoa(p.stompA), "0", "0", strconv.Itoa(p.owireA), p.dirA,
		fmt.Sprintf("static:(tcp://127.0.0.1:%d)", p.owireB))
	testutil.Eventually(t, 60*time.Second, func() bool {
		log, _ := os.ReadFile(filepath.Join(p.runRoot, "benchA", "broker.log"))
		return containsAll(string(log), "Network connection between", "has been established")
	}, "ActiveMQ A's bridge to B")
	return p
}

func (p *activemqPair) script(t *testing.T, name string, args ...string) {
	cmd := exec.Command(filepath.Join(p.scripts, name), args...)
	cmd.Env = append(os.Environ(), "AMQ_RUN_ROOT="+p.runRoot, "AMQ_NC_DUPLEX=false", "AMQ_START_TIMEOUT=90")
	if out, err := cmd.CombinedOutput(); err != nil && name == "start.sh" {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func (p *activemqPair) startB(t *testing.T) {
	p.script(t, "start.sh", "benchB", strconv.Itoa(p.stompB), "0", "0", strconv.Itoa(p.owireB), p.dirB)
}

func (p *activemqPair) name() string { return "activemq" }
func (p *activemqPair) uriA() string { return fmt.Sprintf("stomp://127.0.0.1:%d", p.stompA) }
func (p *activemqPair) uriB() string { return fmt.Sprintf("stomp://127.0.0.1:%d", p.stompB) }
func (p *activemqPair) restartB(t *testing.T) {
	p.script(t, "stop.sh", "benchB", "-9")
	p.startB(t)
}

func containsAll(s string, parts ...string) bool {
	for _, x := range parts {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
