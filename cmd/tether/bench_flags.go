package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tethermq/tether/failover/session"
)

// scenario is one benchmark workload. It is echoed in --json output, so the
// field names are part of that output's format.
type scenario struct {
	URI         string  `json:"uri"`
	Destination string  `json:"destination"`
	Producers   int     `json:"producers"`
	Consumers   int     `json:"consumers"`
	Size        int     `json:"size"`
	Persistent  bool    `json:"persistent"`
	Confirm     bool    `json:"confirm"`
	InFlight    int     `json:"in_flight"`
	Pipelined   bool    `json:"pipelined,omitempty"`
	Groups      int     `json:"groups"`
	Count       int64   `json:"count,omitempty"`
	DurationSec float64 `json:"duration_seconds,omitempty"`
	Ack         string  `json:"ack"`
	Prefetch    int     `json:"prefetch,omitempty"`

	duration     time.Duration
	stallTimeout time.Duration
	topic        bool
}

// benchCmd is what `tether bench` was asked to do.
type benchCmd struct {
	conn       connFlags
	sc         scenario
	json       bool
	noProgress bool
}

// defaultBenchCount is the message count when neither --count nor
// --duration is given.
const defaultBenchCount = 10000

const benchSynopsis = `bench [flags]

Runs producers and consumers against one destination and reports messages per
second sent and end to end, with end-to-end and send-confirmation latency.
Each producer and each consumer has its own connection; a producer keeps
--inflight sends waiting for their confirmation at once. Every message
carries its send time, so the end-to-end latency needs --size of at least 8.`

func parseBench(args []string, e env) (*benchCmd, error) {
	c := &benchCmd{}
	sc := &c.sc
	fs := newFlagSet("bench", benchSynopsis, e.stderr)
	c.conn.register(fs)
	var size, ack string
	var count int64
	fs.StringVar(&sc.Destination, "dest", "", "destination (default: a fresh queue://tether.bench.RANDOM)")
	fs.IntVar(&sc.Producers, "producers", 1, "producer connections")
	fs.IntVar(&sc.Consumers, "consumers", 1, "consumer connections, one subscription each (0: only send)")
	fs.StringVar(&size, "size", "1KiB", "message body size: bytes, or with KiB/MiB (k/m) suffix")
	fs.BoolVar(&sc.Persistent, "persistent", false, "persistent messages (always confirmed)")
	fs.BoolVar(&sc.Confirm, "confirm", false, "wait for the broker's confirmation of each send (default: only when --persistent)")
	fs.IntVar(&sc.InFlight, "inflight", 1, "sends awaiting confirmation at once, per producer (needs confirmed sends)")
	fs.BoolVar(&sc.Pipelined, "pipelined", false, "send with SendAsync from one goroutine per producer, --inflight sends in flight (needs confirmed sends); default: --inflight goroutines each calling Send")
	fs.IntVar(&sc.Groups, "groups", 0, "spread messages round-robin over this many message groups (0: no groups)")
	fs.Int64Var(&count, "count", 0, fmt.Sprintf("messages to send in all (default %d unless --duration)", defaultBenchCount))
	fs.DurationVar(&sc.duration, "duration", 0, "send for this long instead of a count")
	fs.StringVar(&ack, "ack", "auto", "consumer acknowledgement: auto, client or individual (one confirmed ack per message)")
	fs.IntVar(&sc.Prefetch, "prefetch", 0, "consumer prefetch (0: the broker's default)")
	fs.DurationVar(&sc.stallTimeout, "stall-timeout", 30*time.Second, "fail when no message was sent or received for this long (missing messages are then reported)")
	fs.BoolVar(&c.json, "json", false, "print the result as one JSON object on stdout")
	fs.BoolVar(&c.noProgress, "no-progress", false, "no progress bar (it is only drawn when stderr is a terminal)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usagef("bench: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["confirm"] {
		sc.Confirm = sc.Persistent
	}
	sc.Count = count
	if !set["count"] && !set["duration"] {
		sc.Count = defaultBenchCount
	}
	n, err := parseSize(size)
	if err != nil {
		return nil, usagef("bench: --size: %v", err)
	}
	sc.Size = n
	mode, err := parseAck(ack)
	if err != nil {
		return nil, usagef("bench: --ack: %v", err)
	}
	sc.Ack = mode.String()
	sc.URI = c.conn.uri
	if sc.Destination == "" {
		sc.Destination = "queue://tether.bench." + randomSuffix()
	}
	d, err := checkDest(sc.Destination)
	if err != nil {
		return nil, err
	}
	sc.topic = d.Kind == session.Topic
	sc.DurationSec = sc.duration.Seconds()
	return c, sc.validate(set)
}

// validate checks the combination of flags; set names the flags given.
func (sc *scenario) validate(set map[string]bool) error {
	switch {
	case sc.Producers < 1:
		return usagef("bench: --producers %d: want at least 1", sc.Producers)
	case sc.Consumers < 0:
		return usagef("bench: --consumers %d: must not be negative", sc.Consumers)
	case sc.InFlight < 1:
		return usagef("bench: --inflight %d: want at least 1", sc.InFlight)
	case sc.Groups < 0:
		return usagef("bench: --groups %d: must not be negative", sc.Groups)
	case sc.Prefetch < 0:
		return usagef("bench: --prefetch %d: must not be negative", sc.Prefetch)
	case set["count"] && set["duration"]:
		return usagef("bench: give --count or --duration, not both")
	case set["count"] && sc.Count < 1:
		return usagef("bench: --count %d: want at least 1", sc.Count)
	case set["duration"] && sc.duration <= 0:
		return usagef("bench: --duration %v: want a positive duration", sc.duration)
	case sc.stallTimeout <= 0:
		return usagef("bench: --stall-timeout %v: want a positive duration", sc.stallTimeout)
	case sc.Persistent && !sc.Confirm:
		return usagef("bench: --confirm=false with --persistent: persistent sends are always confirmed")
	case sc.Pipelined && !sc.Confirm:
		return usagef("bench: --pipelined needs confirmed sends (--persistent or --confirm)")
	case sc.InFlight > 1 && !sc.Confirm:
		return usagef("bench: --inflight %d needs confirmed sends (--persistent or --confirm): unconfirmed sends are never in flight", sc.InFlight)
	}
	return nil
}

// parseSize reads 1024, 1KiB, 1k, 4MiB, 1m (powers of two throughout).
func parseSize(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1
	for _, u := range []struct {
		suffix string
		m      int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"k", 1 << 10}, {"m", 1 << 20}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.m
			break
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 0 || n > (64<<20)/mult {
		return 0, fmt.Errorf("%q: want a size from 0 to 64MiB, e.g. 1KiB", s)
	}
	return n * mult, nil
}

// randomSuffix names a fresh destination, so that leftovers of an earlier
// run are never counted.
func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
