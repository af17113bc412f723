package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A synthetic --jdbc report renders its own sections, with verdicts that
// follow the numbers, and none of the file stores' comparison.
func TestJDBCReportRenders(t *testing.T) {
	cfg := &config{rounds: 1, args: []string{"--jdbc"}, jdbc: true}
	rep := &report{cfg: cfg, started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), elapsed: 5 * time.Minute,
		activemq: "5.17.2", workloads: jdbcWorkloads(false), samples: map[string]map[string][]sample{},
		env:        environment{CPUs: 2, CPUModel: "test cpu", Kernel: "6.1", Go: "go1.26", Java: "openjdk 17", Disk: "/dev/x ext4"},
		fsync1Runs: []fsyncRate{{WriteBytes: 1024, Syncs: 10, PerSecond: 5000}},
		jdbc:       &jdbcInfo{postgres: "15.18", driver: "42.5.5", lease: time.Second, keep: 250 * time.Millisecond},
		failovers: []failoverRow{
			{broker: nameRef, lock: "database lease 1s", planned: 3, times: []time.Duration{900 * time.Millisecond, time.Second, 2500 * time.Millisecond}},
			{broker: nameAMQ, lock: "database lease 1s", planned: 3, times: []time.Duration{2 * time.Second, 2 * time.Second, 3 * time.Second}},
		},
	}
	add := func(id, broker string, send, e2e float64) {
		rep.add(id, broker, sample{benchJSON: benchJSON{Sent: 1000, Complete: true, SendRate: send, E2ERate: e2e},
			brokerCPU: 40 * time.Millisecond, dbCPU: 60 * time.Millisecond})
	}
	add("b", nameRef, 1000, 1000)
	add("b", nameAMQ, 250, 250)
	add("c", nameRef, 6000, 6000)
	add("c", nameAMQ, 1500, 500)
	path := filepath.Join(t.TempDir(), "docs", "benchmarks-jdbc.md")
	if err := writeReport(path, rep); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, want := range []string{
		"# Benchmarks: refbroker beside ActiveMQ 5.17.2, both storing in PostgreSQL",
		"`go run ./cmd/benchcompare --jdbc`",
		"| (b) | persistent, a confirmation per message, 1 in flight | confirmed msgs/s | 1,000 | 250 | 4.0x | - |",
		"| (c) | persistent, 4 producers x 100 in flight | confirmed msgs/s | 6,000 | 1,500 | 4.0x | ≥ 5x: **not met** |",
		"| median (p95) | 1.00 s (2.35 s) | 2.00 s (2.90 s) | 2.0x | refbroker ≤ 2.00 s (2x the lease): met |",
		"| (c) | the same | msgs/s end to end | 6,000 | 500 | 12.0x | - |",
		"ActiveMQ's consumer fell behind: end to end it delivered 500 msgs/s, 33%",
		"PostgreSQL JDBC driver 42.5.5",
		"| refbroker | database lease 1s | 3 | 1.00 s |",
		"lockAcquireSleepInterval=\"1000\"",
		"| (c) | refbroker | 40 | 60 | 100 |",
		"together used 100 µs of CPU per message with refbroker",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, unwanted := range []string{"ceiling", "Memory (f)", "refbroker's consumer fell behind"} {
		if strings.Contains(doc, unwanted) {
			t.Errorf("report has %q", unwanted)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", doc)
	}
}

func TestJDBCCommandLine(t *testing.T) {
	var stderr strings.Builder
	c, err := parseConfig([]string{"--jdbc", "--repo", t.TempDir(), "--activemq-scripts", testScripts(t)}, &stderr)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if !c.jdbc || filepath.Base(c.out) != "benchmarks-jdbc.md" || c.timeout != 15*time.Minute || c.rounds != 5 || c.kills != 10 {
		t.Fatalf("--jdbc config: %+v", c)
	}
}

// testScripts is a directory that looks like ../shared/activemq.
func testScripts(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "start.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The generated activemq.xml names the driver, the database and the lease,
// with its values escaped.
func TestActiveMQJDBCConfig(t *testing.T) {
	x := activemqJDBCXML("amq<1>", "/tmp/w", 20613, &amqJDBC{host: "127.0.0.1", port: 25432, database: "amq_bench",
		user: "u", password: `p&"<`, keepAliveMS: 250, acquireMS: 1000})
	for _, want := range []string{
		`brokerName="amq&lt;1&gt;"`,
		`value="jdbc:postgresql://127.0.0.1:25432/amq_bench"`,
		`value="p&amp;&#34;&lt;"`,
		`<jdbcPersistenceAdapter dataSource="#postgres-ds" lockKeepAlivePeriod="250">`,
		`<lease-database-locker lockAcquireSleepInterval="1000"/>`,
		`uri="stomp://127.0.0.1:20613"`,
	} {
		if !strings.Contains(x, want) {
			t.Errorf("activemq.xml lacks %s:\n%s", want, x)
		}
	}
}
