package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
)

// The two brokers, as named in the report.
const (
	nameRef = "refbroker"
	nameAMQ = "ActiveMQ"
)

// target is one broker under test.
type target struct {
	name string
	b    broker
	// dbCPU, if set, is the CPU time the broker's database has used so
	// far (the JDBC set): measure adds what it used during the run.
	dbCPU func() (time.Duration, error)
}

func (t target) uri() string { return "stomp://" + t.b.Addr() }

// runWorkloads starts one refbroker and one ActiveMQ, reads their idle
// memory, warms both up, runs every workload cfg.rounds times against each
// (alternating which goes first, so that drift in the machine's load
// touches both alike), and reads their memory again.
//
// between runs after every round; it measures the disk.
func runWorkloads(ctx context.Context, cfg *config, bins binaries, work string, ports *portPicker, rep *report, between func() error, log *slog.Logger) error {
	rbPort, err := ports.next()
	if err != nil {
		return err
	}
	amqPort, err := ports.next()
	if err != nil {
		return err
	}
	rb := &refbrokerProc{bin: bins.refbroker, name: "bench-ref", port: rbPort,
		dataDir: filepath.Join(work, "ref-single"), logPath: filepath.Join(work, "ref-single.log")}
	amq := &activemqProc{scripts: cfg.scripts, runRoot: filepath.Join(work, "amq-run"), name: "bench-amq",
		port: amqPort, dataDir: filepath.Join(work, "amq-single")}
	targets := []target{{name: nameRef, b: rb}, {name: nameAMQ, b: amq}}
	for _, t := range targets {
		defer func() { _ = t.b.Stop() }()
		if err := t.b.Start(ctx); err != nil {
			return err
		}
		log.Info("started", "broker", t.name, "uri", t.uri(), "pid", t.b.Pid())
	}
	rep.activemq = amq.version()

	// Idle: after start-up work (JIT, recovery) has settled.
	if err := pause(ctx, idleSettle); err != nil {
		return err
	}
	rep.memIdle = map[string]memory{}
	for _, t := range targets {
		m, err := readMemory(t.b.Pid())
		if err != nil {
			return err
		}
		rep.memIdle[t.name] = m
	}

	rep.workloads = selectWorkloads(workloads(cfg.quick), cfg.workloads)
	if err := runRounds(ctx, cfg, bins.tether, targets, rep, between, log); err != nil {
		return err
	}
	rep.memAfter = map[string]memory{}
	for _, t := range targets {
		m, err := readMemory(t.b.Pid())
		if err != nil {
			rep.problem("memory of %s after (a)-(d): %v", t.name, err)
			continue
		}
		rep.memAfter[t.name] = m
	}
	return nil
}

// runRounds warms every broker up on every workload of rep.workloads, then
// runs each cfg.rounds times against each broker, alternating which goes
// first (so that drift in the machine's load touches both alike), calling
// between after every round.
func runRounds(ctx context.Context, cfg *config, tether string, targets []target, rep *report, between func() error, log *slog.Logger) error {
	warm := 2 * time.Second
	if cfg.quick {
		warm = time.Second
	}
	for _, w := range rep.workloads {
		for _, t := range targets {
			if _, _, err := runTether(ctx, tether, t.uri(), w.warmup(warm)); err != nil {
				rep.problem("warm-up (%s) on %s: %v", w.id, t.name, err)
			}
		}
	}
	rep.samples = map[string]map[string][]sample{}
	dead := map[string]bool{}
	for round := range cfg.rounds {
		for _, w := range rep.workloads {
			order := targets
			if round%2 == 1 {
				order = []target{targets[1], targets[0]}
			}
			for _, t := range order {
				if dead[t.name] {
					continue
				}
				if t.b.Pid() == 0 {
					dead[t.name] = true
					rep.problem("%s died before round %d (%s); its remaining runs were skipped", t.name, round+1, w.id)
					continue
				}
				s, err := measure(ctx, tether, t, w)
				if err != nil {
					rep.problem("round %d (%s) on %s: %v", round+1, w.id, t.name, err)
					continue
				}
				rep.add(w.id, t.name, s)
				log.Info("measured", "round", round+1, "scenario", w.id, "broker", t.name,
					"send/s", int(s.SendRate), "e2e/s", int(s.E2ERate))
			}
		}
		if err := between(); err != nil {
			return err
		}
	}
	return nil
}

// idleSettle is how long a fresh broker is left alone before its idle
// memory is read.
const idleSettle = 5 * time.Second

// measure runs w once against t and adds the CPU both processes used.
func measure(ctx context.Context, bin string, t target, w workload) (sample, error) {
	pid := t.b.Pid()
	before, err := cpuTime(pid)
	if err != nil {
		return sample{}, err
	}
	var dbBefore time.Duration
	if t.dbCPU != nil {
		if dbBefore, err = t.dbCPU(); err != nil {
			return sample{}, err
		}
	}
	res, clientCPU, err := runTether(ctx, bin, t.uri(), w)
	if err != nil {
		return sample{}, err
	}
	var dbCPU time.Duration
	if t.dbCPU != nil {
		dbAfter, err := t.dbCPU()
		if err != nil {
			return sample{}, err
		}
		dbCPU = dbAfter - dbBefore
	}
	after, err := cpuTime(pid)
	if err != nil {
		return sample{}, fmt.Errorf("%s died during the run? %w", t.name, err)
	}
	return sample{benchJSON: res, brokerCPU: after - before, clientCPU: clientCPU, dbCPU: dbCPU}, nil
}

// pause waits d unless ctx ends first.
func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// selectWorkloads keeps the workloads named in ids (comma-separated; all
// when empty).
func selectWorkloads(all []workload, ids string) []workload {
	if ids == "" {
		return all
	}
	want := map[string]bool{}
	for _, id := range strings.Split(ids, ",") {
		want[strings.TrimSpace(id)] = true
	}
	var out []workload
	for _, w := range all {
		if want[w.id] {
			out = append(out, w)
		}
	}
	return out
}
