package client_test

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

// TestDispatchOrderedAcrossRestart: three connections each run an ordered
// dispatcher over one queue of 100 groups; the broker restarts mid-stream.
// Every group's messages are processed in order (a redelivery may repeat
// the last processed message of a group, never reorder it), no two
// handlers ever run for one group at once, nothing is lost, and the
// dispatchers hear that ownership may have changed after the reconnect.
func TestDispatchOrderedAcrossRestart(t *testing.T) {
	b := startBroker(t, "disp")
	uri := "failover:(" + b.uri() + ")?maxReconnectDelay=100"
	const nGroups, perGroup = 100, 40
	var (
		mu       sync.Mutex
		next     = map[string]int{}
		running  = map[string]bool{}
		errs     []string
		done     atomic.Int64
		owners   atomic.Int64
		dupCount atomic.Int64
	)
	handler := func(ctx context.Context, m *client.Message) error {
		g := m.GroupID()
		parts := strings.Split(string(m.Body()), ":")
		seq, _ := strconv.Atoi(parts[1])
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
			dupCount.Add(1) // at-least-once: processed again, not reordered
		default:
			errs = append(errs, fmt.Sprintf("group %s: seq %d after %d (redelivered=%v)", g, seq, next[g], m.Redelivered()))
		}
		mu.Unlock()
		runtime.Gosched() // give a second handler of the group a chance to overlap
		mu.Lock()
		running[g] = false
		mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 3 {
		c, _ := dial(t, uri)
		sub, err := c.Subscribe(ctx, "queue://dispatch", client.AckIndividual, client.Prefetch(20))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = sub.Dispatch(ctx, handler, groups.Options{Workers: 4, MaxPending: 20,
				OnOwnershipChange: func(string) { owners.Add(1) }})
		}()
	}
	p, _ := dial(t, uri)
	send := func(from, to int) {
		for s := from; s <= to; s++ {
			for g := range nGroups {
				id := "g" + strconv.Itoa(g)
				if err := p.Send(ctx, "queue://dispatch", []byte(id+":"+strconv.Itoa(s)), client.Persistent(), client.Group(id)); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		}
	}
	send(1, perGroup/2)
	testutil.Eventually(t, 30*time.Second, func() bool { return done.Load() >= nGroups*perGroup/4 }, "progress before the restart")
	before := owners.Load()
	b.Stop()
	b.Start()
	send(perGroup/2+1, perGroup)
	testutil.Eventually(t, 40*time.Second, func() bool { return done.Load() == nGroups*perGroup }, "all %d processed (got %d)", nGroups*perGroup, done.Load())
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, e := range errs[:min(len(errs), 10)] {
		t.Error(e)
	}
	if owners.Load() <= before {
		t.Errorf("no ownership notification after the reconnect (%d before, %d after)", before, owners.Load())
	}
	t.Logf("processed %d in order across the restart; %d redeliveries processed again", done.Load(), dupCount.Load())
}
