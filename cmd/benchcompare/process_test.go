package main

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/proctest"
	"github.com/tethermq/tether/internal/testutil"
)

var (
	tetherOnce sync.Once
	tetherBin  string
	tetherErr  error
)

// tetherBinary builds cmd/tether once per test process.
func tetherBinary(t *testing.T) string {
	t.Helper()
	tetherOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tether-bin-")
		if err != nil {
			tetherErr = err
			return
		}
		tetherBin = filepath.Join(dir, "tether")
		root, err := findRepo()
		if err != nil {
			tetherErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", tetherBin, "./cmd/tether")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			tetherErr = err
			t.Logf("%s", out)
		}
	})
	if tetherErr != nil {
		t.Fatal(tetherErr)
	}
	return tetherBin
}

func newRefbroker(t *testing.T, name, dataDir string) *refbrokerProc {
	t.Helper()
	p := &refbrokerProc{bin: proctest.Binary(t), name: name, port: testutil.FreePort(t),
		dataDir: dataDir, logPath: filepath.Join(t.TempDir(), name+".log")}
	t.Cleanup(func() { _ = p.Stop() })
	return p
}

func TestMeasureWorkloadAgainstRefbroker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rb := newRefbroker(t, "bc-single", t.TempDir())
	if err := rb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	w := workload{id: "t", producers: 2, consumers: 2, persistent: true, confirm: true, inFlight: 5, groups: 3, count: 300}
	s, err := measure(ctx, tetherBinary(t), target{name: nameRef, b: rb}, w)
	if err != nil {
		t.Fatal(err)
	}
	if s.Sent != 300 || s.Received != 300 || !s.Complete || s.SendRate <= 0 || s.Latency == nil || s.ConfirmLatency == nil {
		t.Fatalf("sample: %+v", s)
	}
	if s.brokerCPU < 0 || s.clientCPU <= 0 {
		t.Fatalf("cpu: broker %v client %v", s.brokerCPU, s.clientCPU)
	}
	// A warm-up is the same workload for a duration.
	if _, _, err := runTether(ctx, tetherBinary(t), "stomp://"+rb.Addr(), w.warmup(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
}

func TestMeasureFailoverOfARefbrokerPair(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	setup := failoverSetup{label: "test pair", kills: 3,
		members: [2]broker{newRefbroker(t, "bc-m1", dir), newRefbroker(t, "bc-m2", dir)}}
	res, err := measureFailover(ctx, setup, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.times) != 3 {
		t.Fatalf("times: %v", res.times)
	}
	for _, d := range res.times {
		if d <= 0 || d > 30*time.Second {
			t.Fatalf("implausible failover time %v in %v", d, res.times)
		}
	}
	// measureFailover stops both members on its way out.
	for _, m := range setup.members {
		if m.Pid() != 0 {
			t.Fatalf("member %s still runs", m.Addr())
		}
	}
}
