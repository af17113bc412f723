package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tethermq/tether/client"
)

// receiveCmd is what `tether receive` was asked to do.
type receiveCmd struct {
	conn     connFlags
	dest     string
	count    int
	timeout  time.Duration
	ack      client.AckMode
	prefetch int
	selector string
	output   string
	quiet    bool
}

const receiveSynopsis = "receive [flags] DEST\n\nReceives from DEST until --count messages arrived, or until none arrived for\n--timeout, and prints each (--output) or only counts them."

func parseReceive(args []string, e env) (*receiveCmd, error) {
	c := &receiveCmd{}
	fs := newFlagSet("receive", receiveSynopsis, e.stderr)
	c.conn.register(fs)
	var ack string
	fs.IntVar(&c.count, "count", 0, "stop after this many messages (0: until --timeout or interrupted)")
	fs.DurationVar(&c.timeout, "timeout", 0, "stop when no message arrived for this long (0: wait forever); fewer than --count is an error")
	fs.StringVar(&ack, "ack", "auto", "acknowledgement: auto, client or individual (each message is acked after it is printed)")
	fs.IntVar(&c.prefetch, "prefetch", 0, "messages the broker may push ahead of acks (0: the broker's default)")
	fs.StringVar(&c.selector, "selector", "", "JMS selector, e.g. \"region = 'eu'\"")
	fs.StringVar(&c.output, "output", "body", "body (one per line), json (one object per line) or count (only the total)")
	fs.BoolVar(&c.quiet, "q", false, "no summary on stderr")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() != 1 {
		return nil, usagef("receive: want exactly one DEST, got %d argument(s)", fs.NArg())
	}
	c.dest = fs.Arg(0)
	if _, err := checkDest(c.dest); err != nil {
		return nil, err
	}
	mode, err := parseAck(ack)
	if err != nil {
		return nil, usagef("receive: --ack: %v", err)
	}
	c.ack = mode
	switch {
	case c.count < 0:
		return nil, usagef("receive: --count %d: must not be negative", c.count)
	case c.timeout < 0:
		return nil, usagef("receive: --timeout %v: must not be negative", c.timeout)
	case c.prefetch < 0:
		return nil, usagef("receive: --prefetch %d: must not be negative", c.prefetch)
	}
	switch c.output {
	case "body", "json", "count":
	default:
		return nil, usagef("receive: --output %q: want body, json or count", c.output)
	}
	return c, nil
}

// parseAck maps the ack flag, accepting STOMP's spelling client-individual.
func parseAck(s string) (client.AckMode, error) {
	switch s {
	case "auto":
		return client.AckAuto, nil
	case "client":
		return client.AckClient, nil
	case "individual", "client-individual":
		return client.AckIndividual, nil
	}
	return 0, fmt.Errorf("%q: want auto, client or individual", s)
}

func (c *receiveCmd) subOptions() []client.SubOption {
	opts := []client.SubOption{c.ack}
	if c.prefetch > 0 {
		opts = append(opts, client.Prefetch(c.prefetch))
	}
	if c.selector != "" {
		opts = append(opts, client.Selector(c.selector))
	}
	return opts
}

func runReceive(ctx context.Context, args []string, e env) error {
	c, err := parseReceive(args, e)
	if err != nil {
		return err
	}
	conn, err := c.conn.dial(ctx, e.stderr)
	if err != nil {
		return err
	}
	defer conn.Close()
	sub, err := conn.Subscribe(ctx, c.dest, c.subOptions()...)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", c.dest, err)
	}
	n, err := c.loop(ctx, sub, e.stdout)
	if c.output == "count" {
		fmt.Fprintln(e.stdout, n)
	} else if !c.quiet {
		fmt.Fprintf(e.stderr, "received %d message(s) from %s\n", n, c.dest)
	}
	return err
}

// loop receives until the count is reached, the idle timeout passes, or ctx
// ends (an interrupt: not an error). It returns how many messages it got.
func (c *receiveCmd) loop(ctx context.Context, sub *client.Subscription, out io.Writer) (int, error) {
	n := 0
	for c.count == 0 || n < c.count {
		m, err := c.next(ctx, sub)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return n, nil
		case errors.Is(err, context.DeadlineExceeded) && c.count == 0:
			return n, nil
		case errors.Is(err, context.DeadlineExceeded):
			return n, fmt.Errorf("received %d of %d message(s): none arrived for %v", n, c.count, c.timeout)
		default:
			return n, fmt.Errorf("receive from %s: %w", c.dest, err)
		}
		if err := c.print(out, m); err != nil {
			return n, fmt.Errorf("write output: %w", err)
		}
		if err := m.Ack(ctx); err != nil {
			return n, fmt.Errorf("ack message %s: %w", m.ID(), err)
		}
		n++
	}
	return n, nil
}

// next waits for one message, at most the idle timeout.
func (c *receiveCmd) next(ctx context.Context, sub *client.Subscription) (*client.Message, error) {
	if c.timeout == 0 {
		return sub.Next(ctx)
	}
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return sub.Next(tctx)
}

// jsonMessage is one line of --output json.
type jsonMessage struct {
	ID          string `json:"id"`
	Destination string `json:"destination"`
	Redelivered bool   `json:"redelivered,omitempty"`
	Persistent  bool   `json:"persistent,omitempty"`
	// Group is given apart from the headers: not every protocol carries it
	// as a header (AMQP has properties.group-id).
	Group   string            `json:"group,omitempty"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

func (c *receiveCmd) print(out io.Writer, m *client.Message) error {
	switch c.output {
	case "body":
		_, err := fmt.Fprintf(out, "%s\n", m.Body())
		return err
	case "json":
		return json.NewEncoder(out).Encode(jsonMessage{
			ID: m.ID(), Destination: m.Destination(), Redelivered: m.Redelivered(), Persistent: m.Persistent(),
			Group: m.GroupID(), Headers: m.Headers(), Body: string(m.Body()),
		})
	}
	return nil
}
