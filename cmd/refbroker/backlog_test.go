package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/internal/testutil"
)

// storeStatus is what GET /api/store answers.
type storeStatus struct {
	DiskBytes       int64 `json:"diskBytes"`
	LiveBytes       int64 `json:"liveBytes"`
	StoreUsageLimit int64 `json:"storeUsageLimit"`
	NoSpace         bool  `json:"noSpace"`
	MemoryBytes     int64 `json:"memoryBytes"`
	RecordsReplayed int64 `json:"recordsReplayedAtStart"`
	IndexRebuilt    bool  `json:"indexRebuiltAtStart"`
	Compacted       int64 `json:"segmentsCompacted"`
	Removed         int64 `json:"segmentsRemoved"`
	Files           []struct {
		ID        uint64 `json:"id"`
		Size      int64  `json:"size"`
		LiveKeys  int    `json:"liveKeys"`
		LiveBytes int64  `json:"liveBytes"`
		Active    bool   `json:"active"`
	} `json:"files"`
}

func getStore(t *testing.T, admin int) storeStatus {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/store", admin))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st storeStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// produceBacklog sends n persistent messages numbered from..from+n-1 for producer
// p, with a receipt every 100 (the broker confirms a session's sends in
// order, so a receipt covers the ones before it) and on the last.
func produceBacklog(addr, dest string, p, from, n int, body []byte) error {
	c, err := gostomp.Dial("tcp", addr, gostomp.ConnOpt.HeartBeat(0, 0))
	if err != nil {
		return err
	}
	defer c.Disconnect()
	for i := from; i < from+n; i++ {
		opts := []func(*frame.Frame) error{gostomp.SendOpt.Header("persistent", "true"),
			gostomp.SendOpt.Header("producer", strconv.Itoa(p)), gostomp.SendOpt.Header("seq", strconv.Itoa(i))}
		if i%100 == 99 || i == from+n-1 {
			opts = append(opts, gostomp.SendOpt.Receipt)
		}
		if err := c.Send(dest, "application/octet-stream", body, opts...); err != nil {
			return fmt.Errorf("producer %d, message %d: %w", p, i, err)
		}
	}
	return nil
}

// orderCheck follows each producer's sequence: strictly in order, except
// that after a broker kill a producer's stream may restart at or before
// where it was (acks not yet durable are redelivered), and then goes on in
// order again. Nothing may be skipped.
type orderCheck struct {
	mu      sync.Mutex
	next    []int  // next expected sequence number per producer
	restart []bool // a kill happened: the next message may go back
	seen    int
	dups    int
}

func newOrderCheck(producers int) *orderCheck {
	return &orderCheck{next: make([]int, producers), restart: make([]bool, producers)}
}

func (o *orderCheck) killed() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range o.restart {
		o.restart[i] = true
	}
}

func (o *orderCheck) see(m *gostomp.Message) error {
	p, err1 := strconv.Atoi(m.Header.Get("producer"))
	seq, err2 := strconv.Atoi(m.Header.Get("seq"))
	if err1 != nil || err2 != nil || p < 0 || p >= len(o.next) {
		return fmt.Errorf("message without producer/seq headers: %v", m.Header)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case seq == o.next[p]:
		o.seen++
	case o.restart[p] && seq < o.next[p]:
		o.dups += o.next[p] - seq
		o.seen -= o.next[p] - seq - 1
	default:
		return fmt.Errorf("producer %d: got %d, want %d", p, seq, o.next[p])
	}
	o.restart[p] = false
	o.next[p] = seq + 1
	return nil
}

func (o *orderCheck) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.seen
}

// consumeInOrder reads from dest with individual acks until stop says so.
func consumeInOrder(t *testing.T, addr, dest string, o *orderCheck, stop func() bool) {
	t.Helper()
	c, err := gostomp.Dial("tcp", addr, gostomp.ConnOpt.HeartBeat(0, 0), gostomp.ConnOpt.WriteChannelCapacity(4000))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.Subscribe(dest, gostomp.AckClientIndividual, gostomp.SubscribeOpt.Header("activemq.prefetchSize", "20"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		// Disconnect, not MustDisconnect: it waits for the receipt, so acks
		// still in go-stomp's write queue reach the broker. The receipt
		// comes after the prefetched messages, which go-stomp's reader must
		// hand over first: drain them (unacked, they are redelivered).
		go func() {
			for range sub.C {
			}
		}()
		c.Disconnect()
	}()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for !stop() {
		select {
		case m := <-sub.C:
			if m.Err != nil {
				t.Fatalf("after %d messages: %v", o.count(), m.Err)
			}
			if err := o.see(m); err != nil {
				t.Fatal(err)
			}
			if err := c.Ack(m); err != nil {
				t.Fatal(err)
			}
			timeout.Reset(30 * time.Second)
		case <-timeout.C:
			t.Fatalf("no message for 30 s after %d", o.count())
		}
	}
}

// A broker with an 8 MiB memory limit takes a 200 MiB persistent backlog
// from four producers without blocking them, its RSS stays bounded, and
// after a kill -9 in the middle of the drain every message is consumed, in
// order, with only not-yet-durable acks redelivered. The restart replays
// only what followed the last index checkpoint.
func TestBacklogBeyondMemoryLimitStaysOnDisk(t *testing.T) {
	const producers, perProducer, size = 4, 12800, 4096 // 200 MiB of bodies
	const total = producers * perProducer
	dir := t.TempDir()
	port, admin := testutil.FreePort(t), testutil.FreePort(t)
	b := startBroker(t, "bk", dir, port, admin, "--memory-limit", "8MiB")
	b.WaitLog("refbroker bk started", 20*time.Second)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	body := make([]byte, size)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- produceBacklog(addr, "/queue/backlog", p, 0, perProducer, body)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	_, peak, err := b.Memory()
	if err != nil {
		t.Fatal(err)
	}
	st := getStore(t, admin)
	t.Logf("stored %d x %d B in %v (%.0f msg/s); broker peak RSS %.1f MiB; store %.1f MiB on disk, %.1f MiB live; memory %d B",
		total, size, took.Round(time.Millisecond), float64(total)/took.Seconds(), float64(peak)/(1<<20),
		float64(st.DiskBytes)/(1<<20), float64(st.LiveBytes)/(1<<20), st.MemoryBytes)
	if peak > 150<<20 {
		t.Errorf("peak RSS %.1f MiB for an 8 MiB memory limit: want at most 150 MiB", float64(peak)/(1<<20))
	}
	if st.LiveBytes < total*size {
		t.Errorf("store holds %d live bytes, less than the %d sent", st.LiveBytes, total*size)
	}

	o := newOrderCheck(producers)
	consumeInOrder(t, addr, "/queue/backlog", o, func() bool { return o.count() >= total/2 })
	b.Kill()
	o.killed()
	killed := time.Now()
	b2 := startBroker(t, "bk", dir, port, admin, "--memory-limit", "8MiB")
	b2.WaitLog("refbroker bk started", 20*time.Second)
	st2 := getStore(t, admin)
	t.Logf("kill -9 to started: %v; replayed %d journal records (index rebuilt: %v)",
		time.Since(killed).Round(time.Millisecond), st2.RecordsReplayed, st2.IndexRebuilt)
	if st2.IndexRebuilt || st2.RecordsReplayed > total/10 {
		t.Errorf("restart replayed %d records (rebuilt %v): the checkpoint should bound it", st2.RecordsReplayed, st2.IndexRebuilt)
	}
	consumeInOrder(t, addr, "/queue/backlog", o, func() bool { return o.count() >= total })
	t.Logf("consumed all %d in order; %d redelivered after the kill", total, o.dups)
	_, peak2, _ := b2.Memory()
	if peak2 > 150<<20 {
		t.Errorf("peak RSS %.1f MiB while draining: want at most 150 MiB", float64(peak2)/(1<<20))
	}
}
