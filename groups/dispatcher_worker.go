package groups

import (
	"context"
	"log/slog"
	"time"
)

// work handles the jobs it receives until jobs is closed, reporting each on
// done, then reports its own exit. It is owned by Run, which waits for that
// exit report.
func (d *Dispatcher) work(ctx context.Context, jobs <-chan job, done chan<- job) {
	for j := range jobs {
		d.handle(ctx, j)
		done <- j
	}
	done <- job{exit: true}
}

// settleTimeout bounds an ack or nack that outlives Run's context.
const settleTimeout = 10 * time.Second

func (d *Dispatcher) handle(ctx context.Context, j job) {
	if j.notify && d.notify != nil {
		d.notify(j.group)
	}
	err := d.handler(ctx, j.m)
	// A handled message is settled even when Run is being cancelled:
	// otherwise work that was done would be redelivered and done twice.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err != nil {
		d.log.LogAttrs(ctx, slog.LevelWarn, "groups: handler failed; message nacked",
			slog.String("group", j.group), slog.Any("err", err))
		if err := j.m.Nack(sctx); err != nil {
			d.log.LogAttrs(ctx, slog.LevelWarn, "groups: nack failed",
				slog.String("group", j.group), slog.Any("err", err))
		}
		return
	}
	if err := j.m.Ack(sctx); err != nil {
		d.log.LogAttrs(ctx, slog.LevelWarn, "groups: ack failed",
			slog.String("group", j.group), slog.Any("err", err))
	}
}
