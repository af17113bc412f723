package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tethermq/tether/client"
)

// failoverSetup is one master/slave pair on one shared store.
type failoverSetup struct {
	label   string
	members [2]broker
	kills   int
	// pollInterval is how often the slave retries the lock (0: it blocks
	// on it). A master dies at a random moment of that cycle, so the kills
	// are spread over it (see killPhases).
	pollInterval time.Duration
}

// killPhases spreads n kills over a slave's polling cycle: kill k lands at a
// random point of the k-th n-th of the interval after the slave's first
// attempt. Killing right after the slave started would always hit the start
// of its wait and measure the whole interval every time; stratifying keeps
// a handful of kills representative.
func killPhases(n int, interval time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for k := range out {
		out[k] = time.Duration((float64(k) + rand.Float64()) / float64(n) * float64(interval))
	}
	rand.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// phaseWait is how long to wait from now until phase (mod interval) after
// the slave became ready.
func phaseWait(readyAt, now time.Time, phase, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	target := readyAt.Add(phase)
	if late := now.Sub(target); late > 0 {
		target = target.Add(interval * ((late + interval - 1) / interval))
	}
	return target.Sub(now)
}

// failoverResult is the time from each kill -9 of the master to the first
// message through the new master.
type failoverResult struct {
	label string
	times []time.Duration
}

// The clients retry every 10 ms without back-off, so that what is measured
// is the brokers' takeover, not the client's reconnect schedule.
const failoverQuery = "?randomize=false&initialReconnectDelay=10&useExponentialBackOff=false"

// probe is a persistent producer and a consumer on one queue, both on
// failover connections. Each body carries its send time; the consumer hands
// the receive time of the first message sent after a threshold to whoever
// waits for it.
type probe struct {
	base   time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	threshold time.Duration // wait for a message sent after this
	arrived   chan time.Duration
	err       error
}

const probeInterval = time.Millisecond

// restartSettle is the pause after restarting a killed broker.
const restartSettle = time.Second

func startProbe(ctx context.Context, uri string) (*probe, error) {
	dest := "queue://tether.failover." + time.Now().Format("150405.000000")
	dial := func() (*client.Conn, error) {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return client.Dial(dctx, uri)
	}
	cons, err := dial()
	if err != nil {
		return nil, fmt.Errorf("failover probe: %w", err)
	}
	sub, err := cons.Subscribe(ctx, dest)
	if err != nil {
		cons.Close()
		return nil, fmt.Errorf("failover probe: subscribe: %w", err)
	}
	prod, err := dial()
	if err != nil {
		cons.Close()
		return nil, fmt.Errorf("failover probe: %w", err)
	}
	pctx, cancel := context.WithCancel(ctx)
	p := &probe{base: time.Now(), cancel: cancel}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		defer prod.Close()
		p.produce(pctx, prod, dest)
	}()
	go func() {
		defer p.wg.Done()
		defer cons.Close()
		p.consume(pctx, sub)
	}()
	return p, nil
}

func (p *probe) now() time.Duration { return time.Since(p.base) }

// produce sends one persistent message per probeInterval; Send blocks
// through a failover until the new master confirms.
func (p *probe) produce(ctx context.Context, c *client.Conn, dest string) {
	tick := time.NewTicker(probeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		body := binary.BigEndian.AppendUint64(nil, uint64(p.now()))
		if err := c.Send(ctx, dest, body, client.Persistent()); err != nil {
			p.fail(fmt.Errorf("failover probe: send: %w", err), ctx)
			return
		}
	}
}

func (p *probe) consume(ctx context.Context, sub *client.Subscription) {
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			p.fail(fmt.Errorf("failover probe: receive: %w", err), ctx)
			return
		}
		at := p.now()
		if len(m.Body()) < 8 {
			continue
		}
		sentAt := time.Duration(binary.BigEndian.Uint64(m.Body()))
		p.mu.Lock()
		if p.arrived != nil && sentAt > p.threshold {
			p.arrived <- at
			p.arrived = nil
		}
		p.mu.Unlock()
	}
}

func (p *probe) fail(err error, ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
}

// expect arms the probe: the returned channel gets the receive time of the
// first message sent after now.
func (p *probe) expect() (since time.Duration, arrived <-chan time.Duration) {
	ch := make(chan time.Duration, 1)
	p.mu.Lock()
	p.threshold, p.arrived = p.now(), ch
	p.mu.Unlock()
	return p.threshold, ch
}

// await waits for an armed arrival, failing on a probe error or timeout.
func (p *probe) await(ctx context.Context, ch <-chan time.Duration, within time.Duration) (time.Duration, error) {
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case at := <-ch:
			return at, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-timer.C:
			p.mu.Lock()
			err := p.err
			p.mu.Unlock()
			if err == nil {
				err = fmt.Errorf("no message through the brokers within %v", within)
			}
			return 0, err
		}
	}
}

func (p *probe) stop() {
	p.cancel()
	p.wg.Wait()
}

// measureFailover starts the pair (member 0 master, member 1 slave), runs
// the probe through it, and kills the master setup.kills times, each time
// timing the kill to the first message sent after it arriving through the
// new master, then restarting the killed broker as the new slave.
func measureFailover(ctx context.Context, s failoverSetup, log *slog.Logger) (failoverResult, error) {
	res := failoverResult{label: s.label}
	defer func() {
		for _, m := range s.members {
			_ = m.Stop()
		}
	}()
	for i, m := range s.members {
		if err := m.Start(ctx); err != nil {
			return res, err
		}
		if i == 0 && !servesSTOMP(m.Addr()) {
			return res, fmt.Errorf("%s: the first broker does not serve STOMP", s.label)
		}
	}
	slaveReady := time.Now() // the slave logged its first failed attempt just before
	if servesSTOMP(s.members[1].Addr()) {
		return res, fmt.Errorf("%s: the second broker serves too: the pair does not share a lock", s.label)
	}
	uri := fmt.Sprintf("failover:(stomp://%s,stomp://%s)%s", s.members[0].Addr(), s.members[1].Addr(), failoverQuery)
	p, err := startProbe(ctx, uri)
	if err != nil {
		return res, err
	}
	defer p.stop()
	master := 0
	phases := killPhases(s.kills, s.pollInterval)
	for k := range s.kills {
		// Messages flow through the current master before each kill.
		_, ch := p.expect()
		if _, err := p.await(ctx, ch, 60*time.Second); err != nil {
			return res, fmt.Errorf("%s: before kill %d: %w", s.label, k+1, err)
		}
		if !servesSTOMP(s.members[master].Addr()) {
			return res, fmt.Errorf("%s: before kill %d: the expected master does not serve", s.label, k+1)
		}
		if err := pause(ctx, phaseWait(slaveReady, time.Now(), phases[k], s.pollInterval)); err != nil {
			return res, err
		}
		// Only a message sent once the master is gone surely went through
		// the new one: one sent just before the kill may still arrive late
		// on a busy machine. So the arrival is awaited from after the
		// kill, and timed from before it.
		killedAt := p.now()
		if err := s.members[master].Kill(); err != nil {
			return res, err
		}
		_, ch = p.expect()
		at, err := p.await(ctx, ch, 120*time.Second)
		if err != nil {
			return res, fmt.Errorf("%s: kill %d: %w", s.label, k+1, err)
		}
		d := at - killedAt
		// The message must have come through the other broker, now master;
		// anything else means the pair did not behave as a pair.
		if !servesSTOMP(s.members[1-master].Addr()) || s.members[master].Pid() != 0 {
			return res, fmt.Errorf("%s: kill %d: a message arrived after %v, but the other broker does not serve (killed one gone: %v)",
				s.label, k+1, d, s.members[master].Pid() == 0)
		}
		res.times = append(res.times, d)
		log.Info("failover", "pair", s.label, "kill", k+1, "of", s.kills, "time", d.Round(time.Millisecond))
		if err := s.members[master].Start(ctx); err != nil {
			return res, fmt.Errorf("%s: restart after kill %d: %w", s.label, k+1, err)
		}
		slaveReady = time.Now()
		// Let the restarted broker finish starting (a JVM compiles for a
		// while) before the next kill, so that it does not slow the takeover.
		if err := pause(ctx, restartSettle); err != nil {
			return res, err
		}
		master = 1 - master
	}
	if len(res.times) == 0 {
		return res, errors.New(s.label + ": no kill measured")
	}
	return res, nil
}
