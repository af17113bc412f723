package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNumberFormats(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -4321: "-4,321", math.NaN(): "n/a"} {
		if got := num(in); got != want {
			t.Errorf("num(%v) = %q, want %q", in, got, want)
		}
	}
	if got := ratio(3, 2); got != "1.5x" {
		t.Errorf("ratio = %q", got)
	}
	if got := ratio(1, 0); got != "n/a" {
		t.Errorf("ratio by zero = %q", got)
	}
	if got := dur(15300 * time.Microsecond); got != "15.3 ms" {
		t.Errorf("dur = %q", got)
	}
	if got := dur(12 * time.Second); got != "12.00 s" {
		t.Errorf("dur = %q", got)
	}
}

// A synthetic report renders every section, with verdicts that follow the
// numbers.
func TestReportRenders(t *testing.T) {
	cfg := &config{rounds: 1, args: []string{"--quick"}, quick: true}
	rep := &report{cfg: cfg, started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), elapsed: time.Minute,
		activemq: "5.17.2", workloads: workloads(true), samples: map[string]map[string][]sample{},
		env:            environment{CPUs: 2, CPUModel: "test cpu", Kernel: "6.1", Go: "go1.26", Java: "openjdk 17", Disk: "/dev/x ext4"},
		memIdle:        map[string]memory{nameRef: {RSSKiB: 10 << 10, PeakKiB: 10 << 10}, nameAMQ: {RSSKiB: 100 << 10, PeakKiB: 100 << 10}},
		memAfter:       map[string]memory{nameRef: {RSSKiB: 40 << 10, PeakKiB: 50 << 10}, nameAMQ: {RSSKiB: 500 << 10, PeakKiB: 600 << 10}},
		fsync1Runs:     []fsyncRate{{WriteBytes: 1024, Syncs: 10, PerSecond: 5000, P50: time.Millisecond / 5, P99: time.Millisecond}},
		fsyncBatchRuns: []fsyncRate{{WriteBytes: 400 << 10, Syncs: 10, PerSecond: 1000, P50: time.Millisecond, P99: 2 * time.Millisecond}},
		failovers: []failoverRow{
			{broker: nameRef, lock: "blocking flock (default)", planned: 2, times: []time.Duration{100 * time.Millisecond, 120 * time.Millisecond}},
			{broker: nameAMQ, lock: "polling every 10 s (default)", planned: 1, times: []time.Duration{5 * time.Second}},
		},
	}
	rates := map[string][2]float64{ // refbroker, ActiveMQ
		"a": {60000, 20000}, "a'": {90000, 20000}, "b": {2000, 1100}, "c": {20000, 1500}, "c0": {30000, 18000}, "d": {40000, 15000}, "d0": {45000, 25000},
	}
	for id, r := range rates {
		rep.add(id, nameRef, sample{benchJSON: benchJSON{Sent: 1000, Complete: true, SendRate: r[0], E2ERate: r[0]}, brokerCPU: 10 * time.Millisecond, clientCPU: 20 * time.Millisecond})
		rep.add(id, nameAMQ, sample{benchJSON: benchJSON{Sent: 1000, Complete: true, SendRate: r[1], E2ERate: r[1]}, brokerCPU: 40 * time.Millisecond, clientCPU: 20 * time.Millisecond})
	}
	rep.problem("round 1 (x) on %s: boom\nsecond line", nameAMQ)
	path := filepath.Join(t.TempDir(), "docs", "benchmarks.md")
	if err := writeReport(path, rep); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, want := range []string{
		"# Benchmarks: refbroker beside ActiveMQ 5.17.2",
		"`go run ./cmd/benchcompare --quick`",
		"| (a) | non-persistent, 1 producer + 1 consumer | msgs/s end to end | 60,000 | 20,000 | 3.0x | ≥ 3x: met |",
		"| (a') | (a) with the pipelined send: confirmed, 1024 in flight | msgs/s end to end | 90,000 | 20,000 | 4.5x | ≥ 3x: met |",
		"| (b) | persistent, a confirmation per message, 1 in flight | confirmed msgs/s | 2,000 | 1,100 | 1.8x | ≥ 2x: **not met** |",
		"≥ 50% of the 30,000 msgs/s ceiling: 67%, met",
		"| (e) | failover",
		"| 110 ms (119 ms) | 5.00 s (5.00 s) | 45.5x |",
		"| (f) | broker memory, idle | RSS MiB | 10.0 | 100.0 | 10.0x | ≤ 30 MB: met |",
		"400 x 1,000 fdatasync/s = **400,000 msgs/s**",
		"The ceiling used for (c) is the lower of the two, **30,000 msgs/s**",
		"| CPUs (nproc) | 2 (test cpu) |",
		"- round 1 (x) on ActiveMQ: boom\n",
		"groups cost 11%",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", doc)
	}
}

func TestBadCommandLine(t *testing.T) {
	var stderr strings.Builder
	if _, err := parseConfig([]string{"--rounds", "x"}, &stderr); err != errUsage {
		t.Fatalf("err %v", err)
	}
	if _, err := parseConfig([]string{"--activemq-scripts", t.TempDir()}, &stderr); err != errUsage || !strings.Contains(stderr.String(), "start.sh") {
		t.Fatalf("err %v, stderr %q", err, stderr.String())
	}
	c := &config{quick: true}
	c.defaults()
	if c.rounds != 2 || c.kills != 3 || c.amqDefaultKill != 1 || c.timeout != 15*time.Minute {
		t.Fatalf("quick defaults: %+v", c)
	}
}
