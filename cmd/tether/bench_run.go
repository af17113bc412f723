package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tethermq/tether/client"
)

// benchRun is one benchmark in progress. Senders and consumers update the
// counters; the progress bar reads them.
//
// Invariants: target is 0 until the number of messages the consumers must
// get is known (at once for --count, when the senders stop for --duration);
// reached is closed exactly once, when received >= target > 0.
type benchRun struct {
	sc    scenario
	start time.Time // every body carries time.Since(start) at its send

	claimed  atomic.Int64 // message numbers handed to senders so far
	sent     atomic.Int64
	received atomic.Int64
	target   atomic.Int64
	lastRecv atomic.Int64 // time.Since(start) of the latest receive, ns

	reached     chan struct{}
	reachedOnce sync.Once
	sending     atomic.Bool   // senders are running
	stalled     chan struct{} // closed by watch: no progress while draining

	e2e, confirm histogram

	// ctx ends with the caller's context or at the first failure (abort),
	// which stops every sender and consumer.
	ctx   context.Context
	abort context.CancelFunc
	mu    sync.Mutex
	err   error // the first failure
}

// dialFunc opens one connection for a producer or a consumer.
type dialFunc func(ctx context.Context) (*client.Conn, error)

func newRun(ctx context.Context, sc scenario) *benchRun {
	r := &benchRun{sc: sc, reached: make(chan struct{}), stalled: make(chan struct{})}
	r.ctx, r.abort = context.WithCancel(ctx)
	return r
}

// fail records the first failure and stops the run.
func (r *benchRun) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
	r.abort()
}

// failure returns the first failure, nil if none.
func (r *benchRun) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// expected is how many messages the consumers must get for n sent.
func (r *benchRun) expected(n int64) int64 {
	if r.sc.topic {
		return n * int64(r.sc.Consumers)
	}
	return n
}

// setTarget fixes the number of messages to wait for and closes reached if
// the consumers already got them.
func (r *benchRun) setTarget(n int64) {
	r.target.Store(n)
	r.checkReached(r.received.Load())
}

func (r *benchRun) checkReached(got int64) {
	if t := r.target.Load(); t > 0 && got >= t {
		r.reachedOnce.Do(func() { close(r.reached) })
	}
}

// noteReceive advances lastRecv to now; consumers race, so keep the latest.
func (r *benchRun) noteReceive() {
	now := int64(time.Since(r.start))
	for {
		old := r.lastRecv.Load()
		if now <= old || r.lastRecv.CompareAndSwap(old, now) {
			return
		}
	}
}

// execute connects everyone, runs the workload and returns the result. It
// returns an error only if the run could not be carried out; messages still
// missing at the drain timeout are reported in the result (Complete false).
func (r *benchRun) execute(dial dialFunc) (*result, error) {
	defer r.abort()
	var conns []*client.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	open := func() (*client.Conn, error) {
		c, err := dial(r.ctx)
		if err == nil {
			conns = append(conns, c)
		}
		return c, err
	}
	subs, err := r.subscribe(open)
	if err != nil {
		return nil, err
	}
	producers := make([]*client.Conn, r.sc.Producers)
	for i := range producers {
		if producers[i], err = open(); err != nil {
			return nil, err
		}
	}

	cctx, stopConsumers := context.WithCancel(r.ctx)
	defer stopConsumers()
	var consumers sync.WaitGroup
	r.start = time.Now()
	r.sending.Store(true)
	wctx, stopWatch := context.WithCancel(r.ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		r.watch(wctx)
	}()
	defer func() {
		stopWatch()
		<-watchDone
	}()
	for _, s := range subs {
		consumers.Add(1)
		go func() {
			defer consumers.Done()
			r.consume(cctx, s)
		}()
	}
	if r.sc.Count > 0 && r.sc.Consumers > 0 {
		r.setTarget(r.expected(r.sc.Count))
	}
	sendTime := r.produce(producers)
	r.sending.Store(false)
	if r.sc.Count == 0 && r.sc.Consumers > 0 {
		if n := r.sent.Load(); n > 0 {
			r.setTarget(r.expected(n))
		} else {
			r.reachedOnce.Do(func() { close(r.reached) })
		}
	}
	drainErr := r.drain()
	stopConsumers()
	consumers.Wait()
	if err := r.failure(); err != nil {
		return nil, err
	}
	if drainErr != nil && !errors.Is(drainErr, errStalled) {
		return nil, drainErr
	}
	return r.result(sendTime), nil
}

// subscribe opens one connection and subscription per consumer, before any
// message is sent, so that a topic's subscribers see every message.
func (r *benchRun) subscribe(open func() (*client.Conn, error)) ([]*client.Subscription, error) {
	ack, err := parseAck(r.sc.Ack)
	if err != nil {
		return nil, err
	}
	opts := []client.SubOption{ack}
	if r.sc.Prefetch > 0 {
		opts = append(opts, client.Prefetch(r.sc.Prefetch))
	}
	var subs []*client.Subscription
	for range r.sc.Consumers {
		c, err := open()
		if err != nil {
			return nil, err
		}
		s, err := c.Subscribe(r.ctx, r.sc.Destination, opts...)
		if err != nil {
			return nil, fmt.Errorf("subscribe to %s: %w", r.sc.Destination, err)
		}
		subs = append(subs, s)
	}
	return subs, nil
}

// watch ends a run that makes no progress: when neither a send nor a
// receive completed for stallTimeout it fails the run while senders still
// run (a dead broker and a client waiting to reconnect look like that), and
// closes stalled once they are done, so that the drain reports the messages
// still missing. It polls the counters: "nothing happened for a while" has
// no event to wait on.
func (r *benchRun) watch(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	progress := func() int64 { return r.sent.Load() + r.received.Load() }
	last, lastChange := progress(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if n := progress(); n != last {
				last, lastChange = n, now
				continue
			}
			if now.Sub(lastChange) < r.sc.stallTimeout {
				continue
			}
			if r.sending.Load() {
				r.fail(fmt.Errorf("no message sent or received for %v", r.sc.stallTimeout))
			} else {
				close(r.stalled)
			}
			return
		}
	}
}

// drain waits until the consumers got every message, the run ends, or the
// watchdog saw no progress (errStalled: the result reports what is missing).
func (r *benchRun) drain() error {
	if r.sc.Consumers == 0 {
		return nil
	}
	select {
	case <-r.reached:
		return nil
	case <-r.stalled:
		return errStalled
	case <-r.ctx.Done():
		if err := r.failure(); err != nil {
			return err
		}
		return fmt.Errorf("interrupted: %w", r.ctx.Err())
	}
}

var errStalled = errors.New("stalled")
