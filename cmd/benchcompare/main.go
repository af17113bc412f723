// Command benchcompare measures tether's refbroker beside ActiveMQ 5.17 on
// the same machine, in one run, and writes docs/benchmarks.md:
//
//	go run ./cmd/benchcompare            # the full run (about 7 minutes here)
//	go run ./cmd/benchcompare --quick    # a short one (about 2 minutes)
//	go run ./cmd/benchcompare --jdbc     # both brokers on PostgreSQL (jdbc.go)
//
// It builds cmd/refbroker and cmd/tether, starts one refbroker and one
// ActiveMQ (through ../shared/activemq/start.sh), runs the same `tether
// bench` scenarios against both over STOMP in alternating order, kills
// masters of shared-store pairs to time failover, reads both brokers'
// memory from /proc, and reports medians and refbroker/ActiveMQ ratios.
// The machine is shared and noisy: the ratios, measured in the same run,
// are the result; absolute rates are not comparable between runs.
//
// It owns every process it starts and stops them all on the way out,
// including on an interrupt or the --timeout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := compare(ctx, cfg, log); err != nil {
		log.Error("benchcompare failed", "err", err)
		return 1
	}
	return 0
}

// compare is the whole run.
func compare(ctx context.Context, cfg *config, log *slog.Logger) error {
	work, cleanup, err := workDir(cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	log.Info("work directory", "path", work)
	rep := &report{started: time.Now(), cfg: cfg}
	if cfg.jdbc {
		return compareJDBC(ctx, cfg, work, rep, log)
	}

	bins, err := build(ctx, cfg.root, filepath.Join(work, "bin"))
	if err != nil {
		return err
	}
	rep.env = describeEnvironment(ctx, work)
	if err := measureDisk(ctx, work, rep, log); err != nil {
		return err
	}
	ports := newPortPicker()
	if cfg.workloads != "none" {
		if err := runWorkloads(ctx, cfg, bins, work, ports, rep, func() error { return measureDisk(ctx, work, rep, log) }, log); err != nil {
			return err
		}
	}
	if cfg.backlog {
		if err := runBacklog(ctx, cfg, bins, work, ports, rep, log); err != nil {
			return err
		}
	}
	if cfg.failover {
		if err := runFailovers(ctx, cfg, bins, work, ports, rep, log); err != nil {
			return err
		}
	}
	rep.elapsed = time.Since(rep.started)
	return writeReport(cfg.out, rep)
}

// workDir makes (or uses) the directory for data, logs and binaries.
func workDir(cfg *config) (string, func(), error) {
	if cfg.workDir != "" {
		if err := os.MkdirAll(cfg.workDir, 0o755); err != nil {
			return "", nil, err
		}
		return cfg.workDir, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "benchcompare-")
	if err != nil {
		return "", nil, err
	}
	if cfg.keep {
		return dir, func() {}, nil
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}

// binaries are the programs built for the run.
type binaries struct{ refbroker, tether string }

func build(ctx context.Context, root, dir string) (binaries, error) {
	b := binaries{refbroker: filepath.Join(dir, "refbroker"), tether: filepath.Join(dir, "tether")}
	for pkg, out := range map[string]string{"./cmd/refbroker": b.refbroker, "./cmd/tether": b.tether} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
		}
	}
	return b, nil
}

// measureDisk times fdatasync on the data directories' disk: 1 KiB writes
// (one message per sync) and batches as large as (c)'s 400 messages in
// flight (the most one group commit can hold there). Other work on the
// machine moves these figures a lot, so it runs before the workloads and
// after every round, and the report takes the median.
func measureDisk(ctx context.Context, dir string, rep *report, log *slog.Logger) error {
	d := 2 * time.Second
	if rep.cfg.quick {
		d = time.Second
	}
	one, err := measureFsync(ctx, dir, 1<<10, d)
	if err != nil {
		return err
	}
	batch, err := measureFsync(ctx, dir, groupCommitBatch<<10, d)
	if err != nil {
		return err
	}
	rep.fsync1Runs = append(rep.fsync1Runs, one)
	rep.fsyncBatchRuns = append(rep.fsyncBatchRuns, batch)
	log.Info("disk", "fdatasync/s 1KiB", int(one.PerSecond), "fdatasync/s 400KiB", int(batch.PerSecond))
	return nil
}

// groupCommitBatch is the number of messages in flight in (c): 4 producers
// with 100 unconfirmed sends each.
const groupCommitBatch = 400
