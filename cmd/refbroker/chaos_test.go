package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/proctest"
	"github.com/tethermq/tether/internal/testutil"
)

// chaosBroker is one member of the chaos test's master/slave trio.
type chaosBroker struct {
	name        string
	port, admin int
	dir         string
	config      string // --config file, if any
	p           *proctest.Proc
}

func (b *chaosBroker) start(t *testing.T) {
	var args []string
	if b.config != "" {
		args = append(args, "--config", b.config)
	}
	args = append(args, "--broker-name", b.name, "--data-directory", b.dir,
		"--connector", fmt.Sprintf("native=tcp://127.0.0.1:%d", b.port),
		"--admin", fmt.Sprintf("127.0.0.1:%d", b.admin), "--log-level", "info")
	b.p = proctest.Start(t, b.name, args...)
}

func (b *chaosBroker) isMaster() bool {
	c := http.Client{Timeout: 300 * time.Millisecond}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", b.admin))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == 200 && strings.TrimSpace(string(body)) == "master"
}

// chaosLog records what the application saw.
// checkOnceInOrder fails t for any message handed to the application more
// than once and for any group seen out of order.
func (l *chaosLog) checkOnceInOrder(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var dups []string
	for body, n := range l.received {
		if n > 1 {
			dups = append(dups, fmt.Sprintf("%s x%d", body, n))
		}
	}
	if len(dups) > 0 {
		sort.Strings(dups)
		t.Errorf("%d messages handed to the application more than once: %v", len(dups), dups[:min(10, len(dups))])
	}
	for _, e := range l.orderErrs {
		t.Error(e)
	}
}

type chaosLog struct {
	mu        sync.Mutex
	confirmed map[string]bool // body -> confirmed by the broker
	received  map[string]int  // body -> times handed to the application and acked
	lastSeq   map[string]int  // group -> last seq processed
	orderErrs []string
	lastRecv  time.Time
	recvCount atomic.Int64
	perQueue  map[string]int // messages received per queue
	sentAt    map[string]time.Time
	// killAt is the last SIGKILL; firstAfter the first receipt of a message
	// whose send began after it, which can only have gone through the new
	// master: the failover time measured is firstAfter - killAt.
	killAt, firstAfter time.Time
}

func (l *chaosLog) gotMessage(queue, body, group string, seq int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.received[body]++
	l.perQueue[queue]++
	if !l.killAt.IsZero() && l.firstAfter.IsZero() && l.sentAt[body].After(l.killAt) {
		l.firstAfter = time.Now()
	}
	l.lastRecv = time.Now()
	if group != "" && l.received[body] == 1 {
		if seq != l.lastSeq[group]+1 {
			l.orderErrs = append(l.orderErrs, fmt.Sprintf("group %s: seq %d after %d", group, seq, l.lastSeq[group]))
		}
		l.lastSeq[group] = seq
	}
	l.recvCount.Add(1)
}

// TestChaosKillMasterTenTimes runs producers and consumers through the SDK
// against a shared-store trio and SIGKILLs the master ten times, restarting
// each killed broker as a slave. Every confirmed message must reach the
// application exactly once, each group's messages in order, and the SDK
// must report every interruption. It also measures failover time: SIGKILL
// to the first message a consumer receives through the new master.
func TestChaosKillMasterTenTimes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	var brokers []*chaosBroker
	var uris []string
	for i := range 3 {
		b := &chaosBroker{name: fmt.Sprintf("chaos%d", i+1), port: testutil.FreePort(t), admin: testutil.FreePort(t), dir: dir}
		b.start(t)
		if i == 0 {
			b.p.WaitLog("started", 20*time.Second)
		}
		brokers = append(brokers, b)
		uris = append(uris, fmt.Sprintf("tcp://127.0.0.1:%d", b.port))
	}
	uri := "failover:(" + strings.Join(uris, ",") + ")?randomize=false&maxReconnectDelay=200"

	var interruptions sync.Map // conn name -> *atomic.Int64
	dial := func(name string) *client.Conn {
		n := &atomic.Int64{}
		interruptions.Store(name, n)
		c, err := client.Dial(ctx, uri, client.WithEventHandler(func(e client.Event) {
			if e.Kind == client.EventInterrupted {
				n.Add(1)
			}
		}), client.WithHeartBeat(time.Second, time.Second))
		if err != nil {
			t.Fatalf("dial %s: %v", name, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	log := &chaosLog{confirmed: map[string]bool{}, received: map[string]int{}, lastSeq: map[string]int{}, perQueue: map[string]int{}, sentAt: map[string]time.Time{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup

	// Consumers: one per queue, client-individual acks.
	for _, q := range []string{"chaos.plain", "chaos.groups"} {
		c := dial("consumer-" + q)
		sub, err := c.Subscribe(ctx, "queue://"+q, client.AckIndividual, client.Prefetch(50))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := sub.Next(ctx)
				if err != nil {
					return
				}
				if err := m.Ack(ctx); err != nil {
					if ctx.Err() == nil {
						t.Errorf("ack: %v", err)
					}
					return
				}
				log.gotMessage(q, string(m.Body()), m.GroupID(), m.GroupSeq())
			}
		}()
	}
	// Producers: plain persistent sends, and grouped ones (10 groups, each
	// with its own increasing JMSXGroupSeq).
	produce := func(name, q string, grouped bool) {
		defer wg.Done()
		c := dial(name)
		seq := map[string]int{}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			body := fmt.Sprintf("%s-%d", name, i)
			var opts []client.SendOption
			opts = append(opts, client.Persistent())
			if grouped {
				g := "g" + strconv.Itoa(i%10)
				seq[g]++
				body = fmt.Sprintf("%s:%s:%d", name, g, seq[g])
				opts = append(opts, client.Group(g), client.GroupSeq(seq[g]))
			}
			log.mu.Lock()
			log.sentAt[body] = time.Now()
			log.mu.Unlock()
			err := c.Send(ctx, "queue://"+q, []byte(body), opts...)
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("send %s: %v", body, err)
				}
				return
			}
			log.mu.Lock()
			log.confirmed[body] = true
			log.mu.Unlock()
		}
	}
	wg.Add(2)
	go produce("p-plain", "chaos.plain", false)
	go produce("p-groups", "chaos.groups", true)

	var failover []time.Duration
	for kill := 1; kill <= 10; kill++ {
		// Let traffic flow on both queues between kills, so that every
		// connection is back on the new master before the next kill.
		log.mu.Lock()
		plain, grouped := log.perQueue["chaos.plain"], log.perQueue["chaos.groups"]
		log.mu.Unlock()
		testutil.Eventually(t, 20*time.Second, func() bool {
			log.mu.Lock()
			defer log.mu.Unlock()
			return log.perQueue["chaos.plain"] >= plain+100 && log.perQueue["chaos.groups"] >= grouped+100
		}, "traffic on both queues before kill %d", kill)
		var master *chaosBroker
		testutil.Eventually(t, 10*time.Second, func() bool {
			for _, b := range brokers {
				if !b.p.Exited() && b.isMaster() {
					master = b
					return true
				}
			}
			return false
		}, "a master before kill %d", kill)
		log.mu.Lock()
		log.killAt, log.firstAfter = time.Now(), time.Time{}
		log.mu.Unlock()
		master.p.Kill()
		testutil.Eventually(t, 30*time.Second, func() bool {
			log.mu.Lock()
			defer log.mu.Unlock()
			return !log.firstAfter.IsZero()
		}, "a message sent after kill %d received", kill)
		log.mu.Lock()
		failover = append(failover, log.firstAfter.Sub(log.killAt))
		log.mu.Unlock()
		master.start(t) // back as a slave
		master.p.WaitLog("slave mode", 20*time.Second)
	}
	close(stop)
	// Drain: every confirmed message must arrive.
	testutil.Eventually(t, 30*time.Second, func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		for body := range log.confirmed {
			if log.received[body] == 0 {
				return false
			}
		}
		return true
	}, "every confirmed message received")
	cancel()
	wg.Wait()

	log.checkOnceInOrder(t)
	interruptions.Range(func(k, v any) bool {
		if n := v.(*atomic.Int64).Load(); n < 10 {
			t.Errorf("%s reported %d interruptions, want at least 10", k, n)
		}
		return true
	})
	slices.Sort(failover)
	t.Logf("confirmed %d messages, received %d distinct; failover (SIGKILL to first message via the new master) over %d kills: median %v, p95 %v, max %v",
		len(log.confirmed), len(log.received), len(failover), failover[len(failover)/2].Round(time.Millisecond),
		failover[len(failover)*95/100].Round(time.Millisecond), failover[len(failover)-1].Round(time.Millisecond))
}
