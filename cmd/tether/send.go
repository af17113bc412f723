package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tethermq/tether/client"
)

// sendCmd is what `tether send` was asked to do.
type sendCmd struct {
	conn       connFlags
	dest       string
	body       []byte
	count      int
	headers    headerFlag
	group      string
	persistent bool
	confirm    bool
	ttl        time.Duration
	priority   int
	quiet      bool
}

const sendSynopsis = "send [flags] DEST [BODY]\n\nSends BODY (or the contents of --file) COUNT times to DEST and waits for\nthe broker's confirmation of each (persistent sends are always confirmed)."

func parseSend(args []string, e env) (*sendCmd, error) {
	c := &sendCmd{headers: headerFlag{}}
	fs := newFlagSet("send", sendSynopsis, e.stderr)
	c.conn.register(fs)
	var file string
	fs.IntVar(&c.count, "count", 1, "how many times to send the message")
	fs.Var(c.headers, "H", "header NAME=VALUE (repeatable)")
	fs.StringVar(&c.group, "group", "", "message group (JMSXGroupID)")
	fs.BoolVar(&c.persistent, "persistent", false, "store the message on disk before the broker confirms it")
	fs.BoolVar(&c.confirm, "confirm", true, "wait for the broker's confirmation of a non-persistent send")
	fs.DurationVar(&c.ttl, "ttl", 0, "expire the message after this long (0: never)")
	fs.IntVar(&c.priority, "priority", -1, "message priority 0-9 (-1: the broker's default)")
	fs.StringVar(&file, "file", "", "read the body from this file ('-' for stdin) instead of the BODY argument")
	fs.BoolVar(&c.quiet, "q", false, "print nothing on success")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() == 0:
		return nil, usagef("send: missing DEST (e.g. queue://orders)")
	case fs.NArg() > 2:
		return nil, usagef("send: unexpected argument %q (quote a BODY with spaces)", fs.Arg(2))
	case fs.NArg() == 2 && file != "":
		return nil, usagef("send: give a BODY argument or --file, not both")
	case fs.NArg() == 1 && file == "":
		return nil, usagef("send: missing BODY (or --file PATH, '-' for stdin)")
	}
	c.dest = fs.Arg(0)
	if _, err := checkDest(c.dest); err != nil {
		return nil, err
	}
	if c.count < 1 {
		return nil, usagef("send: --count %d: want at least 1", c.count)
	}
	if c.priority < -1 || c.priority > 9 {
		return nil, usagef("send: --priority %d: want 0-9", c.priority)
	}
	if c.persistent && !c.confirm {
		return nil, usagef("send: --confirm=false with --persistent: persistent sends are always confirmed")
	}
	if c.ttl < 0 {
		return nil, usagef("send: --ttl %v: must not be negative", c.ttl)
	}
	if file == "" {
		c.body = []byte(fs.Arg(1))
		return c, nil
	}
	body, err := readBody(file, e.stdin)
	if err != nil {
		return nil, usagef("send: --file: %v", err)
	}
	c.body = body
	return c, nil
}

func readBody(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(path)
}

// options turns the flags into the SDK's send options.
func (c *sendCmd) options() []client.SendOption {
	var opts []client.SendOption
	if c.persistent {
		opts = append(opts, client.Persistent())
	}
	if !c.confirm {
		opts = append(opts, client.Unconfirmed())
	}
	if len(c.headers) > 0 {
		opts = append(opts, client.Headers(c.headers))
	}
	if c.group != "" {
		opts = append(opts, client.Group(c.group))
	}
	if c.ttl > 0 {
		opts = append(opts, client.TTL(c.ttl))
	}
	if c.priority >= 0 {
		opts = append(opts, client.Priority(c.priority))
	}
	return opts
}

func runSend(ctx context.Context, args []string, e env) error {
	c, err := parseSend(args, e)
	if err != nil {
		return err
	}
	conn, err := c.conn.dial(ctx, e.stderr)
	if err != nil {
		return err
	}
	defer conn.Close()
	opts := c.options()
	for i := range c.count {
		if err := conn.Send(ctx, c.dest, c.body, opts...); err != nil {
			return fmt.Errorf("send %d of %d to %s: %w", i+1, c.count, c.dest, err)
		}
	}
	if !c.quiet {
		fmt.Fprintf(e.stdout, "sent %d message(s) to %s\n", c.count, c.dest)
	}
	return nil
}
