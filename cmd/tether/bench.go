package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tethermq/tether/client"
)

// runBench is `tether bench`: parse, run, report. Missing messages at the
// end make it fail (status 1) after the report is printed.
func runBench(ctx context.Context, args []string, e env) error {
	c, err := parseBench(args, e)
	if err != nil {
		return err
	}
	r := newRun(ctx, c.sc)
	defer r.abort()
	dial := func(ctx context.Context) (*client.Conn, error) { return c.conn.dial(ctx, e.stderr) }

	var bar *progressBar
	if e.stderrTTY && !c.noProgress {
		// r.start is set once the connections are up; until then the bar
		// shows nothing useful, so it starts on the first tick after.
		bar = startProgress(e.stderr, 250*time.Millisecond, func() (float64, string) {
			if r.sent.Load() == 0 && r.received.Load() == 0 {
				return 0, "connecting"
			}
			return r.progress()
		})
	}
	res, err := r.execute(dial)
	if bar != nil {
		bar.stop()
	}
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if c.json {
		err = res.writeJSON(e.stdout)
	} else {
		err = res.writeTable(e.stdout)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if !res.Complete {
		return fmt.Errorf("bench: received %d of %d message(s): nothing arrived for %v", res.Received, res.Expected, c.sc.stallTimeout)
	}
	return nil
}
