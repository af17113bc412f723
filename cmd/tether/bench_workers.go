package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/tethermq/tether/client"
)

// produce runs InFlight senders per producer connection until the count is
// sent, the duration is over or the run ends, and returns how long sending
// took. Several goroutines per connection are how the SDK pipelines
// confirmed sends: each Send waits for its own confirmation while the
// connection carries them all.
func (r *benchRun) produce(producers []*client.Conn) time.Duration {
	var wg sync.WaitGroup
	for _, c := range producers {
		if r.sc.Pipelined {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.pipelinedLoop(r.ctx, c)
			}()
			continue
		}
		for range r.sc.InFlight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.sendLoop(r.ctx, c)
			}()
		}
	}
	wg.Wait()
	return time.Since(r.start)
}

// sendLoop is one sender: it claims message numbers and sends them.
func (r *benchRun) sendLoop(ctx context.Context, c *client.Conn) {
	base := r.baseOptions()
	opts := make([]client.SendOption, len(base), len(base)+1)
	copy(opts, base)
	for ctx.Err() == nil {
		if r.sc.duration > 0 && time.Since(r.start) >= r.sc.duration {
			return
		}
		n := r.claimed.Add(1)
		if r.sc.Count > 0 && n > r.sc.Count {
			return
		}
		opts = opts[:len(base)]
		if r.sc.Groups > 0 {
			opts = append(opts, client.Group(groupName(n, r.sc.Groups)))
		}
		// A fresh body per send: the SDK keeps it for re-sending until the
		// broker confirmed it.
		body := make([]byte, r.sc.Size)
		begin := time.Since(r.start)
		if len(body) >= 8 {
			binary.BigEndian.PutUint64(body, uint64(begin))
		}
		if err := c.Send(ctx, r.sc.Destination, body, opts...); err != nil {
			if ctx.Err() == nil {
				r.fail(fmt.Errorf("send to %s: %w", r.sc.Destination, err))
			}
			return
		}
		if r.sc.Confirm {
			r.confirm.record(time.Since(r.start) - begin)
		}
		r.sent.Add(1)
	}
}

// pipelinedLoop is one producer sending with SendAsync: at most InFlight
// sends await their confirmation, which a second goroutine collects in
// order, recording each one's latency.
func (r *benchRun) pipelinedLoop(ctx context.Context, c *client.Conn) {
	type inFlight struct {
		p     *client.PendingSend
		begin time.Duration
	}
	slots := make(chan struct{}, r.sc.InFlight)
	pending := make(chan inFlight, r.sc.InFlight)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for f := range pending {
			err := f.p.Wait(ctx)
			<-slots
			if err != nil {
				if ctx.Err() == nil {
					r.fail(fmt.Errorf("send to %s: %w", r.sc.Destination, err))
				}
				continue
			}
			r.confirm.record(time.Since(r.start) - f.begin)
			r.sent.Add(1)
		}
	}()
	defer func() {
		close(pending)
		<-collected
	}()
	base := r.baseOptions()
	opts := make([]client.SendOption, len(base), len(base)+1)
	copy(opts, base)
	for ctx.Err() == nil {
		if r.sc.duration > 0 && time.Since(r.start) >= r.sc.duration {
			return
		}
		n := r.claimed.Add(1)
		if r.sc.Count > 0 && n > r.sc.Count {
			return
		}
		opts = opts[:len(base)]
		if r.sc.Groups > 0 {
			opts = append(opts, client.Group(groupName(n, r.sc.Groups)))
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		body := make([]byte, r.sc.Size)
		begin := time.Since(r.start)
		if len(body) >= 8 {
			binary.BigEndian.PutUint64(body, uint64(begin))
		}
		p, err := c.SendAsync(ctx, r.sc.Destination, body, opts...)
		if err != nil {
			if ctx.Err() == nil {
				r.fail(fmt.Errorf("send to %s: %w", r.sc.Destination, err))
			}
			return
		}
		pending <- inFlight{p, begin} // never blocks: it holds a slot
	}
}

func (r *benchRun) baseOptions() []client.SendOption {
	var opts []client.SendOption
	if r.sc.Persistent {
		opts = append(opts, client.Persistent())
	}
	if !r.sc.Confirm {
		opts = append(opts, client.Unconfirmed())
	}
	return opts
}

// groupName spreads message n over groups round-robin.
func groupName(n int64, groups int) string {
	return "g" + strconv.FormatInt(n%int64(groups), 10)
}

// consume receives on s until ctx ends, recording each message's end-to-end
// latency from the send time in its body.
func (r *benchRun) consume(ctx context.Context, s *client.Subscription) {
	acking := r.sc.Ack != client.AckAuto.String()
	for {
		m, err := s.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.fail(fmt.Errorf("receive from %s: %w", r.sc.Destination, err))
			}
			return
		}
		now := time.Since(r.start)
		if body := m.Body(); len(body) >= 8 {
			r.e2e.record(now - time.Duration(binary.BigEndian.Uint64(body)))
		}
		if acking {
			if err := m.Ack(ctx); err != nil {
				if ctx.Err() == nil {
					r.fail(fmt.Errorf("ack on %s: %w", r.sc.Destination, err))
				}
				return
			}
		}
		r.noteReceive()
		r.checkReached(r.received.Add(1))
	}
}
