package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tethermq/tether/client"
)

const queue = "queue://orders"

// runDemo starts the two pairs, runs the traffic and checks the result.
func runDemo(ctx context.Context, verbose bool) error {
	work, err := os.MkdirTemp("", "tether-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	logs := io.Discard
	if verbose {
		logs = os.Stderr
	}

	var all []*child
	defer func() {
		for _, c := range all {
			c.stop()
		}
	}()
	add := func(name, dir, network string) (*child, error) {
		c, err := newChild(name, dir, network)
		if err == nil {
			all = append(all, c)
		}
		return c, err
	}
	b1, err := add("b1", work+"/B", "")
	if err != nil {
		return err
	}
	b2, err := add("b2", work+"/B", "")
	if err != nil {
		return err
	}
	link := fmt.Sprintf("masterslave:(%s,%s)?duplex=true&initialReconnectDelay=200", b1.uri(), b2.uri())
	a1, err := add("a1", work+"/A", link)
	if err != nil {
		return err
	}
	a2, err := add("a2", work+"/A", link)
	if err != nil {
		return err
	}
	for _, c := range all {
		if err := c.start(logs); err != nil {
			return err
		}
		want := "slave"
		if c == a1 || c == b1 {
			want = "master"
		}
		if err := c.waitRole(ctx, want); err != nil {
			return err
		}
	}
	fmt.Printf("A = {a1 master, a2 slave} sharing %s/A; B = {b1 master, b2 slave} sharing %s/B\n", work, work)
	fmt.Println("a1 and a2 carry the network connector", link)

	uriA := fmt.Sprintf("failover:(%s,%s)?randomize=false&maxReconnectDelay=500", a1.uri(), a2.uri())
	uriB := fmt.Sprintf("failover:(%s,%s)?randomize=false&maxReconnectDelay=500", b1.uri(), b2.uri())
	events := func(who string) client.Option {
		return client.WithEventHandler(func(e client.Event) {
			if e.Kind == client.EventInterrupted || e.Kind == client.EventResumed {
				fmt.Printf("  [%s client] %s %s\n", who, e.Kind, e.URI)
			}
		})
	}
	producer, err := client.Dial(ctx, uriA, events("A"))
	if err != nil {
		return err
	}
	defer producer.Close()
	onA, err := client.Dial(ctx, uriA)
	if err != nil {
		return err
	}
	defer onA.Close()
	onB, err := client.Dial(ctx, uriB, events("B"))
	if err != nil {
		return err
	}
	defer onB.Close()

	got := newTally()
	if err := send(ctx, producer, 0, 50); err != nil {
		return err
	}
	fmt.Println("sent 50 to A")
	if err := consume(ctx, onB, "B", got, 20); err != nil {
		return err
	}
	fmt.Println("consumed 20 on B (forwarded by A on B's demand)")
	if err := consume(ctx, onA, "A", got, 20); err != nil {
		return err
	}
	fmt.Println("consumed 20 on A (the duplex bridge brought back what B held)")

	killed := time.Now()
	a1.kill()
	fmt.Println("SIGKILLed a1, A's master")
	if err := a2.waitRole(ctx, "master"); err != nil {
		return err
	}
	fmt.Printf("a2 took over after %v\n", time.Since(killed).Round(time.Millisecond))
	if err := send(ctx, producer, 50, 100); err != nil {
		return err
	}
	fmt.Println("sent 50 more to A")
	if err := consumeBoth(ctx, onA, onB, got, 100); err != nil {
		return err
	}
	fmt.Printf("all 100 consumed (on A %d, on B %d)\n", got.of("A"), got.of("B"))
	if err := got.exactlyOnce(100); err != nil {
		return err
	}
	fmt.Println("each of the 100 messages was received exactly once")
	return nil
}

func send(ctx context.Context, c *client.Conn, from, to int) error {
	for i := from; i < to; i++ {
		if err := c.Send(ctx, queue, []byte(strconv.Itoa(i)), client.Persistent()); err != nil {
			return fmt.Errorf("send %d: %w", i, err)
		}
	}
	return nil
}

// consume takes n messages, acking each, then unsubscribes (the broker
// keeps the rest).
func consume(ctx context.Context, c *client.Conn, who string, got *tally, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sub, err := c.Subscribe(ctx, queue, client.AckIndividual)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe(context.Background())
	for range n {
		m, err := sub.Next(ctx)
		if err != nil {
			return fmt.Errorf("%s: after %d: %w", who, got.of(who), err)
		}
		if err := m.Ack(ctx); err != nil {
			return err
		}
		got.add(who, string(m.Body()))
	}
	return nil
}

// consumeBoth consumes on A and B at once until total distinct messages
// arrived. A's consumer takes one message at a time, so B's gets a share.
func consumeBoth(ctx context.Context, onA, onB *client.Conn, got *tally, total int) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	run := func(c *client.Conn, who string, opts ...client.SubOption) {
		defer wg.Done()
		sub, err := c.Subscribe(ctx, queue, append(opts, client.AckIndividual)...)
		if err != nil {
			errs <- err
			return
		}
		defer sub.Unsubscribe(context.Background())
		for got.distinct() < total {
			m, err := sub.Next(ctx)
			if err != nil {
				errs <- fmt.Errorf("%s: %w", who, err)
				return
			}
			if err := m.Ack(ctx); err != nil {
				errs <- err
				return
			}
			got.add(who, string(m.Body()))
			if got.distinct() >= total {
				cancel() // the other consumer stops too
			}
		}
	}
	wg.Add(2)
	go run(onA, "A", client.Prefetch(1))
	go run(onB, "B")
	wg.Wait()
	close(errs)
	if got.distinct() >= total {
		return nil
	}
	return <-errs
}

type tally struct {
	mu     sync.Mutex
	bodies map[string]int
	by     map[string]int
}

func newTally() *tally { return &tally{bodies: map[string]int{}, by: map[string]int{}} }

func (t *tally) add(who, body string) {
	t.mu.Lock()
	t.bodies[body]++
	t.by[who]++
	t.mu.Unlock()
}

func (t *tally) distinct() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.bodies)
}

func (t *tally) of(who string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.by[who]
}

func (t *tally) exactlyOnce(n int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var bad []string
	for i := range n {
		if c := t.bodies[strconv.Itoa(i)]; c != 1 {
			bad = append(bad, fmt.Sprintf("%d received %d times", i, c))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("not exactly once: %s", strings.Join(bad, "; "))
	}
	return nil
}
