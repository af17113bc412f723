package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tethermq/tether/client"
)

// run is one producer and/or consumer session.
type run struct {
	uri     string
	dest    string
	total   int
	logger  *slog.Logger
	halfway func() // called once when half the messages are confirmed

	mu        sync.Mutex
	confirmed map[string]bool
	received  map[string]int
	conns     []*client.Conn
}

func (r *run) dial(ctx context.Context, name string) (*client.Conn, error) {
	c, err := client.Dial(ctx, r.uri, client.WithLogger(r.logger), client.WithEventHandler(func(e client.Event) {
		printEvent(name, e)
	}))
	if err == nil {
		r.mu.Lock()
		r.conns = append(r.conns, c)
		r.mu.Unlock()
	}
	return c, err
}

func printEvent(who string, e client.Event) {
	line := fmt.Sprintf("%s %-10s %-17s", e.Time.Format("15:04:05.000"), who, e.Kind)
	switch e.Kind {
	case client.EventConnected, client.EventResumed:
		line += " " + e.URI
	case client.EventInterrupted:
		line += fmt.Sprintf(" %s: %v", e.URI, e.Err)
	case client.EventReconnectFailed:
		line += fmt.Sprintf(" pass %d: %v", e.Attempt, e.Err)
	case client.EventResent:
		line += fmt.Sprintf(" %d unconfirmed send(s) re-sent", e.Count)
	case client.EventDuplicateDropped:
		line += " " + e.MessageID
	case client.EventFailed:
		line += fmt.Sprintf(" %v", e.Err)
	}
	fmt.Println(line)
}

// start runs the chosen roles until the producer is done and the consumer
// has everything the producer confirmed (role both), or until ctx ends.
func (r *run) start(ctx context.Context, role string) error {
	r.confirmed, r.received = map[string]bool{}, map[string]int{}
	defer func() {
		for _, c := range r.conns {
			c.Close()
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	produced := make(chan struct{})
	if role == "consumer" || role == "both" {
		c, err := r.dial(ctx, "consumer")
		if err != nil {
			return err
		}
		sub, err := c.Subscribe(ctx, r.dest, client.AckIndividual, client.Prefetch(50))
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- r.consume(ctx, sub, role == "both", produced)
		}()
	}
	if role == "producer" || role == "both" {
		c, err := r.dial(ctx, "producer")
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.produce(ctx, c)
			close(produced)
			errs <- err
		}()
	} else {
		close(produced)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}

func (r *run) produce(ctx context.Context, c *client.Conn) error {
	for i := range r.total {
		body := fmt.Sprintf("message-%06d", i)
		// Returns once the broker stored it; across a failover it is
		// re-sent with the same duplicate id and stored once.
		if err := c.Send(ctx, r.dest, []byte(body), client.Persistent()); err != nil {
			return fmt.Errorf("send %s: %w", body, err)
		}
		r.mu.Lock()
		r.confirmed[body] = true
		r.mu.Unlock()
		if i == r.total/2 && r.halfway != nil {
			r.halfway()
		}
	}
	return nil
}

// consume acks each message; with stopWhenDone it ends once every confirmed
// message arrived after the producer finished.
func (r *run) consume(ctx context.Context, sub *client.Subscription, stopWhenDone bool, produced <-chan struct{}) error {
	for {
		wait, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		m, err := sub.Next(wait)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			if stopWhenDone && r.allReceived(produced) {
				return nil
			}
			continue
		}
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.received[string(m.Body())]++
		r.mu.Unlock()
		if err := m.Ack(ctx); err != nil {
			return fmt.Errorf("ack: %w", err)
		}
	}
}

func (r *run) allReceived(produced <-chan struct{}) bool {
	select {
	case <-produced:
	default:
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for body := range r.confirmed {
		if r.received[body] == 0 {
			return false
		}
	}
	return true
}

func (r *run) report(elapsed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dups := 0
	for _, n := range r.received {
		if n > 1 {
			dups++
		}
	}
	missing := 0
	for body := range r.confirmed {
		if r.received[body] == 0 {
			missing++
		}
	}
	fmt.Printf("\nconfirmed %d, received %d distinct, %d received twice, %d confirmed but missing, in %v\n",
		len(r.confirmed), len(r.received), dups, missing, elapsed.Round(time.Millisecond))
	for _, c := range r.conns {
		fmt.Printf("stats: %+v\n", c.Stats())
	}
}
