package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

func TestReadMemoryOfThisProcess(t *testing.T) {
	m, err := readMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSSKiB <= 0 || m.PeakKiB < m.RSSKiB {
		t.Fatalf("implausible memory: %+v", m)
	}
	if _, err := readMemory(0); err == nil {
		t.Fatal("pid 0 has memory")
	}
}

func TestCPUTimeAdvances(t *testing.T) {
	start, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	testutil.Eventually(t, 20*time.Second, func() bool {
		for i := range 1_000_000 {
			x += i
		}
		now, err := cpuTime(os.Getpid())
		return err == nil && now-start >= 2*clockTick
	}, "CPU time did not advance while spinning (x=%d)", x)
}

func TestMeasureFsync(t *testing.T) {
	r, err := measureFsync(context.Background(), t.TempDir(), 1024, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.Syncs == 0 || r.PerSecond <= 0 || r.P50 <= 0 || r.P99 < r.P50 || r.WriteBytes != 1024 {
		t.Fatalf("implausible: %+v", r)
	}
	c := combine([]fsyncRate{r, {WriteBytes: 1024, Syncs: 1, PerSecond: 1, P50: time.Second, P99: time.Second}})
	if c.Syncs != r.Syncs+1 || c.PerSecond != (r.PerSecond+1)/2 {
		t.Fatalf("combine: %+v", c)
	}
}

func TestAliveAndKillPid(t *testing.T) {
	if !alive(os.Getpid()) {
		t.Fatal("this process is not alive")
	}
	if alive(0) || alive(-1) {
		t.Fatal("nonsense pids are alive")
	}
}
