package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// report collects everything one run measured.
type report struct {
	cfg      *config
	started  time.Time
	elapsed  time.Duration
	env      environment
	activemq string // ActiveMQ's version, from its log

	// fsync1Runs and fsyncBatchRuns are the disk measurements, taken
	// before the workloads and after every round.
	fsync1Runs, fsyncBatchRuns []fsyncRate

	workloads []workload
	samples   map[string]map[string][]sample // workload id -> broker -> rounds
	memIdle   map[string]memory
	memAfter  map[string]memory
	failovers []failoverRow
	backlog   map[string]*backlogResult // (g), by broker
	jdbc      *jdbcInfo                 // --jdbc: the database side
	problems  []string                  // runs that failed; the report lists them
}

// failoverRow is one pair's kill times.
type failoverRow struct {
	broker, lock string
	planned      int
	times        []time.Duration
}

func (r *report) disk1() fsyncRate     { return combine(r.fsync1Runs) }
func (r *report) diskBatch() fsyncRate { return combine(r.fsyncBatchRuns) }

func (r *report) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *report) add(id, broker string, s sample) {
	if r.samples[id] == nil {
		r.samples[id] = map[string][]sample{}
	}
	r.samples[id][broker] = append(r.samples[id][broker], s)
}

// med is the median of f over the rounds of workload id on broker (NaN if
// none succeeded).
func (r *report) med(id, broker string, f func(sample) float64) float64 {
	var xs []float64
	for _, s := range r.samples[id][broker] {
		xs = append(xs, f(s))
	}
	return median(xs)
}

func sendRate(s sample) float64 { return s.SendRate }
func e2eRate(s sample) float64  { return s.E2ERate }

// ceiling is the most (c) could confirm per second on this machine: the
// lower of what the disk allows with group commit (every fdatasync commits
// all 400 messages in flight) and what refbroker does with the same
// workload minus the disk, (c0).
func (r *report) ceiling() (disk, cpu, binding float64) {
	disk = groupCommitBatch * r.diskBatch().PerSecond
	cpu = r.med("c0", nameRef, sendRate)
	binding = disk
	if !math.IsNaN(cpu) && cpu < disk {
		binding = cpu
	}
	return disk, cpu, binding
}

func (r *report) amqName() string {
	if r.activemq != "" {
		return "ActiveMQ " + r.activemq
	}
	return "ActiveMQ"
}

// writeReport renders the report to path ('-' for stdout).
func writeReport(path string, r *report) error {
	var b strings.Builder
	r.render(&b)
	if path == "-" {
		_, err := os.Stdout.WriteString(b.String())
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// num formats a rate with thousands separators ("n/a" for NaN).
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// ratio formats a/b as "2.6x".
func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fx", a/b)
}

// ms formats a latency in milliseconds with sensible precision.
func ms(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// dur formats a failover time.
func dur(d time.Duration) string {
	switch {
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}
