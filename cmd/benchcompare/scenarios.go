package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// workload is one `tether bench` scenario, run identically against each
// broker. Exactly one of count and duration is set.
type workload struct {
	id, title            string
	producers, consumers int
	persistent, confirm  bool
	pipelined            bool // SendAsync from one goroutine, inFlight in flight
	inFlight, groups     int
	size                 string // default 1KiB
	count                int64
	duration             time.Duration
}

// args renders the tether bench flags (the URI comes separately).
func (w workload) args() []string {
	size := w.size
	if size == "" {
		size = "1KiB"
	}
	a := []string{
		"--producers", strconv.Itoa(w.producers), "--consumers", strconv.Itoa(w.consumers),
		"--size", size, "--inflight", strconv.Itoa(w.inFlight), "--groups", strconv.Itoa(w.groups),
	}
	if w.persistent {
		a = append(a, "--persistent")
	}
	if w.confirm && !w.persistent {
		a = append(a, "--confirm")
	}
	if w.pipelined {
		a = append(a, "--pipelined")
	}
	if w.count > 0 {
		a = append(a, "--count", strconv.FormatInt(w.count, 10))
	} else {
		a = append(a, "--duration", w.duration.String())
	}
	return a
}

// command is the tether invocation shown in the report.
func (w workload) command() string {
	return "tether bench --uri URI " + strings.Join(w.args(), " ")
}

// warmup is the same workload, shortened: it lets the JVM compile its hot
// paths (and refbroker fill its pools) before anything is measured.
func (w workload) warmup(d time.Duration) workload {
	w.count, w.duration = 0, d
	return w
}

// workloads are scenarios (a) to (d) and their companions: (a') is (a)
// with the SDK's pipelined send (every message confirmed, 1024 in flight),
// (c0) is (c) without persistence, the same work minus the disk, and (d0)
// is (d) without groups.
func workloads(quick bool) []workload {
	count := func(full, short int64) int64 {
		if quick {
			return short
		}
		return full
	}
	dur := 5 * time.Second
	if quick {
		dur = 2 * time.Second
	}
	return []workload{
		{id: "a", title: "non-persistent, 1 producer + 1 consumer", producers: 1, consumers: 1, inFlight: 1, count: count(100000, 20000)},
		{id: "a'", title: "(a) with the pipelined send: confirmed, 1024 in flight", producers: 1, consumers: 1, confirm: true, pipelined: true, inFlight: 1024, count: count(100000, 20000)},
		{id: "b", title: "persistent, a confirmation per message, 1 in flight", producers: 1, consumers: 1, persistent: true, confirm: true, inFlight: 1, duration: dur},
		{id: "c", title: "persistent, 4 producers x 100 in flight", producers: 4, consumers: 1, persistent: true, confirm: true, inFlight: 100, duration: dur},
		{id: "c0", title: "(c) non-persistent, confirmed: (c) without the disk", producers: 4, consumers: 1, confirm: true, inFlight: 100, duration: dur},
		{id: "d", title: "1,000 groups over 4 consumers", producers: 1, consumers: 4, inFlight: 1, groups: 1000, count: count(50000, 10000)},
		{id: "d0", title: "(d) without groups", producers: 1, consumers: 4, inFlight: 1, count: count(50000, 10000)},
	}
}

// benchJSON is the part of `tether bench --json` this program reads.
type benchJSON struct {
	Sent           int64        `json:"sent"`
	Received       int64        `json:"received"`
	Complete       bool         `json:"complete"`
	SendRate       float64      `json:"send_rate"`
	E2ERate        float64      `json:"e2e_rate"`
	Latency        *latencyJSON `json:"latency_ms"`
	ConfirmLatency *latencyJSON `json:"confirm_latency_ms"`
}

type latencyJSON struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// sample is one run of a workload against one broker.
type sample struct {
	benchJSON
	// brokerCPU and clientCPU are the CPU time the broker process and the
	// tether process used during the run.
	brokerCPU, clientCPU time.Duration
	// dbCPU is the CPU time the database used during the run (JDBC set).
	dbCPU time.Duration
}

// cpuPerMessage is CPU time per message sent, in microseconds.
func cpuPerMessage(d time.Duration, sent int64) float64 {
	if sent == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(sent)
}

// runTether runs one workload against uri and returns tether's result and
// the CPU time tether used.
func runTether(ctx context.Context, bin, uri string, w workload) (benchJSON, time.Duration, error) {
	return runTetherArgs(ctx, bin, uri, w.args())
}

// runTetherArgs runs tether bench with the given scenario flags.
func runTetherArgs(ctx context.Context, bin, uri string, scenario []string) (benchJSON, time.Duration, error) {
	var res benchJSON
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	args := append([]string{"bench", "--uri", uri, "--json", "--no-progress", "--stall-timeout", "20s"}, scenario...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var cpu time.Duration
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil {
		if err == nil {
			err = jerr
		}
		return res, cpu, fmt.Errorf("tether %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if err != nil || !res.Complete {
		return res, cpu, fmt.Errorf("tether %s: incomplete (%d of %d received): %v\n%s", strings.Join(args, " "), res.Received, res.Sent, err, stderr.String())
	}
	return res, cpu, nil
}
