package main

import (
	"math"
	"os"
	"testing"
	"time"
)

func TestMedianAndQuantile(t *testing.T) {
	if got := median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("median odd = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median even = %v", got)
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
	ten := []float64{10, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	if got := quantile(ten, 0.95); math.Abs(got-9.55) > 1e-9 {
		t.Errorf("p95 of 1..10 = %v, want 9.55 (between the 9th and 10th)", got)
	}
	if ten[0] != 10 {
		t.Error("quantile sorted its input in place")
	}
	if got := seconds([]time.Duration{1500 * time.Millisecond}); got[0] != 1.5 {
		t.Errorf("seconds = %v", got)
	}
}

func TestKillPhasesAreStratified(t *testing.T) {
	const n, interval = 5, 10 * time.Second
	ph := killPhases(n, interval)
	seen := make([]bool, n)
	for _, p := range ph {
		k := int(p * n / interval)
		if p < 0 || p >= interval || seen[k] {
			t.Fatalf("phases %v: not one per fifth of the interval", ph)
		}
		seen[k] = true
	}
	if got := killPhases(3, 0); got[0] != 0 || got[2] != 0 {
		t.Fatalf("blocking slave: phases %v", got)
	}
}

func TestPhaseWait(t *testing.T) {
	ready := time.Unix(100, 0)
	const iv = 200 * time.Millisecond
	for _, tc := range []struct {
		now, phase, want time.Duration // now is after ready
	}{
		{10 * time.Millisecond, 50 * time.Millisecond, 40 * time.Millisecond},
		{60 * time.Millisecond, 50 * time.Millisecond, 190 * time.Millisecond},
		{460 * time.Millisecond, 50 * time.Millisecond, 190 * time.Millisecond},
		{450 * time.Millisecond, 50 * time.Millisecond, 0},
		{50 * time.Millisecond, 50 * time.Millisecond, 0},
	} {
		if got := phaseWait(ready, ready.Add(tc.now), tc.phase, iv); got != tc.want {
			t.Errorf("now +%v phase %v: wait %v, want %v", tc.now, tc.phase, got, tc.want)
		}
	}
	if got := phaseWait(ready, ready.Add(time.Hour), time.Second, 0); got != 0 {
		t.Errorf("blocking: wait %v", got)
	}
}

// A process tree's CPU includes the root's own.
func TestTreeCPU(t *testing.T) {
	// Burn a little CPU so that the figures are not all zero.
	deadline := time.Now().Add(30 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	own, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	tree, err := treeCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if tree < own {
		t.Fatalf("tree %v < own %v", tree, own)
	}
	if _, err := treeCPU(1 << 30); err == nil {
		t.Fatal("no error for a pid that does not exist")
	}
}
