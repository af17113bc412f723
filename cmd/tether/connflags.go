package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/failover/session"
)

// defaultURI is ActiveMQ's (and refbroker's) STOMP port on this machine.
const defaultURI = "stomp://127.0.0.1:61613"

// connFlags are the connection flags every command takes.
type connFlags struct {
	uri            string
	user, password string
	connectTimeout time.Duration
	verbose        bool
}

func (c *connFlags) register(fs *flag.FlagSet) {
	def := defaultURI
	if v := os.Getenv("TETHER_URI"); v != "" {
		def = v
	}
	fs.StringVar(&c.uri, "uri", def, "broker URI, passed to the SDK unchanged (default from $TETHER_URI)")
	fs.StringVar(&c.user, "user", "", "login")
	fs.StringVar(&c.password, "password", "", "passcode")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 15*time.Second, "give up if no broker answers within this long")
	fs.BoolVar(&c.verbose, "v", false, "log the SDK's debug output and every failover event on stderr")
}

// dial connects, bounding the wait for a first broker by connectTimeout (a
// failover: URI otherwise retries forever). Failover events are logged on
// stderr, so that a reconnect during a long send or receive is visible.
func (c *connFlags) dial(ctx context.Context, stderr io.Writer, extra ...client.Option) (*client.Conn, error) {
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts := []client.Option{
		client.WithLogger(log),
		client.WithEventHandler(func(ev client.Event) { logEvent(log, ev) }),
	}
	if c.user != "" || c.password != "" {
		opts = append(opts, client.WithCredentials(c.user, c.password))
	}
	dctx, cancel := context.WithTimeout(ctx, c.connectTimeout)
	defer cancel()
	conn, err := client.Dial(dctx, c.uri, append(opts, extra...)...)
	if err != nil {
		if errors.Is(err, client.ErrInvalidURI) {
			return nil, usagef("--uri %q: %v", c.uri, err)
		}
		if dctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("connect to %s: no broker answered within %v: %w", c.uri, c.connectTimeout, err)
		}
		return nil, fmt.Errorf("connect to %s: %w", c.uri, err)
	}
	return conn, nil
}

// logEvent reports the failover events a user of the command wants to see:
// losing and regaining the broker always, the rest with -v.
func logEvent(log *slog.Logger, ev client.Event) {
	level := slog.LevelDebug
	switch ev.Kind {
	case client.EventInterrupted, client.EventResumed, client.EventFailed:
		level = slog.LevelWarn
	}
	attrs := []any{"uri", ev.URI}
	if ev.Err != nil {
		attrs = append(attrs, "err", ev.Err)
	}
	if ev.Count > 0 {
		attrs = append(attrs, "count", ev.Count)
	}
	log.Log(context.Background(), level, "failover: "+ev.Kind.String(), attrs...)
}

// parseFlags parses args with fs, mapping -h to errHelp and any other flag
// error (already printed by fs with the usage) to a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}

// newFlagSet makes a subcommand's flag set that reports to stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: tether %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// checkDest validates a destination before connecting, so that a typo is a
// usage error rather than a failure after the connection is up.
func checkDest(dest string) (session.Destination, error) {
	d, err := session.ParseDestination(dest)
	if err != nil {
		return d, usagef("%v", err)
	}
	return d, nil
}

// headerFlag collects repeated -H NAME=VALUE flags.
type headerFlag map[string]string

func (h headerFlag) String() string {
	var parts []string
	for k, v := range h {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (h headerFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", v)
	}
	h[name] = value
	return nil
}
