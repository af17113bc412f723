package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"syscall"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
)

// backlogResult is scenario (g) on one broker: a persistent backlog far
// larger than memory, stored with no consumer, the broker killed and
// restarted under it, then drained.
type backlogResult struct {
	messages int64
	size     int

	storeRate   float64       // messages/s confirmed while storing
	storePeak   memory        // the broker's resident set after storing (VmHWM: the peak)
	restart     time.Duration // kill -9 to the STOMP port answering CONNECT
	restartRSS  memory        // right after the restart
	drainRate   float64       // messages/s consumed by one consumer (the disk check excluded)
	drainPeak   memory        // after draining (VmHWM of the restarted process)
	diskFull    int64         // data directory after storing, bytes allocated
	diskAfter90 int64         // once the check below ended
	live90      int64         // bodies left after consuming 90%
	settle      time.Duration // consuming 90% to disk <= 1.5x live, or the minute it was given
	settled     bool
	err         error
}

// backlog parameters: 4 producers with 100 sends in flight each, 4 KiB.
const (
	backlogProducers = 4
	backlogInFlight  = 100
	backlogSize      = 4 << 10
	backlogDest      = "queue://tether.bench.backlog"
	settleWithin     = time.Minute
)

// runBacklog measures (g) on a fresh refbroker and a fresh ActiveMQ, each
// with its default configuration, one after the other.
func runBacklog(ctx context.Context, cfg *config, bins binaries, work string, ports *portPicker, rep *report, log *slog.Logger) error {
	n := int64(300000)
	if cfg.quick {
		n = 30000
	}
	rep.backlog = map[string]*backlogResult{}
	for _, name := range []string{nameRef, nameAMQ} {
		port, err := ports.next()
		if err != nil {
			return err
		}
		var b broker
		dataDir := filepath.Join(work, "backlog-"+name)
		if name == nameRef {
			b = &refbrokerProc{bin: bins.refbroker, name: "backlog-ref", port: port, dataDir: dataDir,
				logPath: filepath.Join(work, "backlog-ref.log")}
		} else {
			b = &activemqProc{scripts: cfg.scripts, runRoot: filepath.Join(work, "amq-run"), name: "backlog-amq",
				port: port, dataDir: dataDir}
		}
		res := &backlogResult{messages: n, size: backlogSize}
		rep.backlog[name] = res
		res.err = backlogOn(ctx, bins, target{name: name, b: b}, dataDir, res, log)
		_ = b.Stop()
		if res.err != nil {
			rep.problem("(g) on %s: %v", name, res.err)
		}
	}
	return nil
}

func backlogOn(ctx context.Context, bins binaries, t target, dataDir string, res *backlogResult, log *slog.Logger) error {
	if err := t.b.Start(ctx); err != nil {
		return err
	}
	w := workload{id: "g", producers: backlogProducers, consumers: 0, persistent: true, confirm: true,
		inFlight: backlogInFlight, count: res.messages, size: "4KiB"}
	args := append(w.args(), "--dest", backlogDest)
	out, _, err := runTetherArgs(ctx, bins.tether, t.uri(), args)
	if err != nil {
		return fmt.Errorf("storing: %w", err)
	}
	res.storeRate = out.SendRate
	if res.storePeak, err = readMemory(t.b.Pid()); err != nil {
		return err
	}
	res.diskFull = duBytes(dataDir)
	log.Info("(g) stored", "broker", t.name, "msg/s", int(res.storeRate), "peakMiB", res.storePeak.peakMiB(),
		"diskMiB", res.diskFull>>20)

	if err := t.b.Kill(); err != nil {
		return err
	}
	killed := time.Now()
	if err := t.b.Start(ctx); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	if err := waitFor(ctx, 5*time.Minute, t.name+" STOMP port after the restart", func() (bool, error) {
		return servesSTOMP(t.b.Addr()), nil
	}); err != nil {
		return err
	}
	res.restart = time.Since(killed)
	res.restartRSS, _ = readMemory(t.b.Pid())
	log.Info("(g) restarted", "broker", t.name, "took", res.restart.Round(time.Millisecond))

	// Drain 90%, watch the disk for up to a minute (with no consumer
	// connected: one that stops reading would be cut off by the broker),
	// then drain the rest.
	ninety := res.messages * 9 / 10
	drained, err := drainBacklog(ctx, t.b.Addr(), ninety)
	if err != nil {
		return err
	}
	res.live90 = (res.messages - ninety) * int64(res.size)
	settleStart := time.Now()
	for {
		res.diskAfter90 = duBytes(dataDir)
		if res.diskAfter90 <= res.live90*3/2 {
			res.settled = true
			break
		}
		if time.Since(settleStart) >= settleWithin {
			break
		}
		if err := pause(ctx, time.Second); err != nil {
			return err
		}
	}
	res.settle = time.Since(settleStart)
	log.Info("(g) disk after 90% drained", "broker", t.name, "diskMiB", res.diskAfter90>>20,
		"liveMiB", res.live90>>20, "settled", res.settled, "after", res.settle.Round(time.Second))
	rest, err := drainBacklog(ctx, t.b.Addr(), res.messages-ninety)
	if err != nil {
		return err
	}
	drained += rest
	res.drainRate = float64(res.messages) / drained.Seconds()
	res.drainPeak, _ = readMemory(t.b.Pid())
	log.Info("(g) drained", "broker", t.name, "msg/s", int(res.drainRate))
	return nil
}

// drainBacklog consumes n messages of the backlog with one consumer
// (client-individual acknowledgement of each message, prefetch 1000) and returns
// how long that took. It disconnects cleanly, so what it prefetched but did
// not acknowledge stays queued.
func drainBacklog(ctx context.Context, addr string, n int64) (time.Duration, error) {
	// go-stomp reads and writes on one goroutine: room for every ack the
	// prefetch can need keeps an ack from waiting behind a delivery.
	c, err := gostomp.Dial("tcp", addr, gostomp.ConnOpt.HeartBeat(0, 0), gostomp.ConnOpt.WriteChannelCapacity(2000))
	if err != nil {
		return 0, err
	}
	sub, err := c.Subscribe("/queue/"+backlogDest[len("queue://"):], gostomp.AckClientIndividual,
		gostomp.SubscribeOpt.Header("activemq.prefetchSize", "1000"))
	if err != nil {
		c.MustDisconnect()
		return 0, err
	}
	defer func() {
		go func() { // the DISCONNECT receipt comes after what was prefetched
			for range sub.C {
			}
		}()
		_ = c.Disconnect()
	}()
	start := time.Now()
	stall := time.NewTimer(60 * time.Second)
	defer stall.Stop()
	for got := int64(0); got < n; {
		select {
		case m := <-sub.C:
			if m.Err != nil {
				return 0, fmt.Errorf("draining after %d of %d: %w", got, n, m.Err)
			}
			got++
			if err := c.Ack(m); err != nil {
				return 0, fmt.Errorf("ack after %d: %w", got, err)
			}
			stall.Reset(60 * time.Second)
		case <-stall.C:
			return 0, fmt.Errorf("draining: nothing for 60 s after %d of %d", got, n)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return time.Since(start), nil
}

// duBytes is what dir occupies on disk: allocated blocks, as du counts
// them (preallocated files included).
func duBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		var st syscall.Stat_t
		if syscall.Stat(path, &st) == nil {
			n += st.Blocks * 512
		}
		return nil
	})
	return n
}
