package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// runFailovers times kill -9 of the master for refbroker pairs (blocking on
// the lock, its default, and polling every 200 ms like ActiveMQ) and
// ActiveMQ pairs (polling at its default 10 s and at 200 ms).
func runFailovers(ctx context.Context, cfg *config, bins binaries, work string, ports *portPicker, rep *report, log *slog.Logger) error {
	pollCfg := filepath.Join(work, "ref-poll.yaml")
	if err := os.WriteFile(pollCfg, []byte("lockAcquireSleepInterval: 200ms\n"), 0o644); err != nil {
		return err
	}
	ref := func(tag string, extra ...string) ([2]broker, error) {
		var ms [2]broker
		for i := range ms {
			port, err := ports.next()
			if err != nil {
				return ms, err
			}
			name := fmt.Sprintf("%s-%d", tag, i+1)
			ms[i] = &refbrokerProc{bin: bins.refbroker, name: name, port: port, extraArgs: extra,
				dataDir: filepath.Join(work, tag), logPath: filepath.Join(work, name+".log")}
		}
		return ms, nil
	}
	amq := func(tag string, intervalMS int) ([2]broker, error) {
		var ms [2]broker
		for i := range ms {
			port, err := ports.next()
			if err != nil {
				return ms, err
			}
			ms[i] = &activemqProc{scripts: cfg.scripts, runRoot: filepath.Join(work, "amq-run"),
				name: fmt.Sprintf("%s-%d", tag, i+1), port: port, dataDir: filepath.Join(work, tag), lockIntervalMS: intervalMS}
		}
		return ms, nil
	}
	type spec struct {
		label, lock string
		kills       int
		poll        time.Duration
		members     func() ([2]broker, error)
	}
	specs := []spec{
		{nameRef, "blocking flock (default)", cfg.kills, 0, func() ([2]broker, error) { return ref("ref-pair-block") }},
		{nameRef, "polling every 200 ms", cfg.kills, 200 * time.Millisecond, func() ([2]broker, error) { return ref("ref-pair-poll", "--config", pollCfg) }},
		{nameAMQ, "polling every 10 s (default)", cfg.amqDefaultKill, 10 * time.Second, func() ([2]broker, error) { return amq("amq-pair-10s", 0) }},
		{nameAMQ, "polling every 200 ms", cfg.kills, 200 * time.Millisecond, func() ([2]broker, error) { return amq("amq-pair-200ms", 200) }},
	}
	for _, s := range specs {
		ms, err := s.members()
		if err != nil {
			return err
		}
		res, err := measureFailover(ctx, failoverSetup{label: s.label + ", " + s.lock, members: ms, kills: s.kills, pollInterval: s.poll}, log)
		if err != nil {
			rep.problem("failover %s, %s: %v", s.label, s.lock, err)
		}
		rep.failovers = append(rep.failovers, failoverRow{broker: s.label, lock: s.lock, planned: s.kills, times: res.times})
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}
