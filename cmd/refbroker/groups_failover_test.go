package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/groups"
	"github.com/tethermq/tether/internal/testutil"
)

// TestGroupsAcrossMasterKill: a master/slave pair, 3 SDK consumers each
// running an ordered dispatcher over 200 groups, the master SIGKILLed
// mid-stream. Every group is processed in order (a redelivery may repeat a
// group's last processed message, never reorder it), never by two handlers
// at once, and nothing confirmed is lost.
func TestGroupsAcrossMasterKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	var brokers []*chaosBroker
	var uris []string
	for i := range 2 {
		b := &chaosBroker{name: fmt.Sprintf("gms%d", i+1), port: testutil.FreePort(t), admin: testutil.FreePort(t), dir: dir}
		b.start(t)
		if i == 0 {
			b.p.WaitLog("started", 20*time.Second)
		}
		brokers = append(brokers, b)
		uris = append(uris, fmt.Sprintf("tcp://127.0.0.1:%d", b.port))
	}
	brokers[1].p.WaitLog("slave mode", 20*time.Second)
	uri := "failover:(" + strings.Join(uris, ",") + ")?randomize=false&maxReconnectDelay=100"
	dial := func() *client.Conn {
		c, err := client.Dial(ctx, uri)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	const nGroups, perGroup = 200, 25
	var (
		mu      sync.Mutex
		next    = map[string]int{}
		running = map[string]bool{}
		errs    []string
		done    atomic.Int64
		again   atomic.Int64
	)
	handler := func(ctx context.Context, m *client.Message) error {
		g := m.GroupID()
		seq, _ := strconv.Atoi(strings.SplitN(string(m.Body()), ":", 2)[1])
		mu.Lock()
		if running[g] {
			errs = append(errs, "two handlers at once for "+g)
		}
		running[g] = true
		switch {
		case seq == next[g]+1:
			next[g] = seq
			done.Add(1)
		case seq <= next[g] && m.Redelivered():
			again.Add(1)
		default:
			errs = append(errs, fmt.Sprintf("group %s: seq %d after %d", g, seq, next[g]))
		}
		mu.Unlock()
		runtime.Gosched()
		mu.Lock()
		running[g] = false
		mu.Unlock()
		return nil
	}
	var wg sync.WaitGroup
	for range 3 {
		sub, err := dial().Subscribe(ctx, "queue://grouped", client.AckIndividual, client.Prefetch(50))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = sub.Dispatch(ctx, handler, groups.Options{Workers: 8, MaxPending: 50})
		}()
	}
	p := dial()
	sendErr := make(chan error, 1)
	go func() {
		for s := 1; s <= perGroup; s++ {
			for g := range nGroups {
				id := "g" + strconv.Itoa(g)
				if err := p.Send(ctx, "queue://grouped", []byte(id+":"+strconv.Itoa(s)), client.Persistent(), client.Group(id), client.GroupSeq(s)); err != nil {
					sendErr <- err
					return
				}
			}
		}
		sendErr <- nil
	}()
	testutil.Eventually(t, 30*time.Second, func() bool { return done.Load() >= nGroups*perGroup/3 }, "progress before the kill")
	brokers[0].p.Kill()
	if err := <-sendErr; err != nil {
		t.Fatalf("send: %v", err)
	}
	testutil.Eventually(t, 60*time.Second, func() bool { return done.Load() == nGroups*perGroup },
		"all processed after the kill")
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, e := range errs[:min(len(errs), 10)] {
		t.Error(e)
	}
	t.Logf("%d grouped messages processed in order across the master kill; %d redeliveries processed again", done.Load(), again.Load())
}
