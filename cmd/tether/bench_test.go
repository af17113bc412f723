package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBenchJSON(t *testing.T) {
	uri := startBroker(t)
	o := tether(t, "", "bench", "--uri", uri, "--json", "--producers", "2", "--consumers", "2",
		"--persistent", "--inflight", "4", "--groups", "10", "--count", "400", "--size", "100").mustSucceed(t)
	var res result
	if err := json.Unmarshal([]byte(o.stdout), &res); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, o.stdout)
	}
	sc := res.Scenario
	if sc.URI != uri || sc.Producers != 2 || sc.Consumers != 2 || !sc.Persistent || !sc.Confirm ||
		sc.InFlight != 4 || sc.Groups != 10 || sc.Count != 400 || sc.Size != 100 || sc.Ack != "auto" ||
		!strings.HasPrefix(sc.Destination, "queue://tether.bench.") {
		t.Fatalf("scenario echoed wrong: %+v", sc)
	}
	if res.Sent != 400 || res.Received != 400 || res.Expected != 400 || !res.Complete {
		t.Fatalf("counts: %+v", res)
	}
	if res.SendRate <= 0 || res.E2ERate <= 0 || res.SendSeconds <= 0 || res.E2ESeconds <= 0 {
		t.Fatalf("rates: %+v", res)
	}
	for name, l := range map[string]*latencies{"latency_ms": res.Latency, "confirm_latency_ms": res.ConfirmLatency} {
		if l == nil || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max {
			t.Fatalf("%s: %+v", name, l)
		}
	}
}

func TestBenchTopicDurationTable(t *testing.T) {
	uri := startBroker(t)
	o := tether(t, "", "bench", "--uri", uri, "--dest", "topic://cli.fanout", "--consumers", "3",
		"--duration", "300ms", "--ack", "client").mustSucceed(t)
	for _, want := range []string{"topic://cli.fanout", "3 consumers (ack client)", "non-persistent, unconfirmed", "for 300ms", "sent", "end to end", "p99"} {
		if !strings.Contains(o.stdout, want) {
			t.Fatalf("table lacks %q:\n%s", want, o.stdout)
		}
	}
	if strings.Contains(o.stdout, "INCOMPLETE") {
		t.Fatalf("every subscriber should get every message:\n%s", o.stdout)
	}
}

func TestBenchProgressOnlyOnTerminal(t *testing.T) {
	uri := startBroker(t)
	args := []string{"bench", "--uri", uri, "--duration", "700ms", "--confirm"}
	o := tetherEnv(t, "", true, args...).mustSucceed(t)
	if !strings.Contains(o.stderr, "\r\033[K[") || !strings.Contains(o.stderr, "sent ") {
		t.Fatalf("no progress bar on a terminal: %q", o.stderr)
	}
	if !strings.HasSuffix(o.stderr, "\r\033[K") {
		t.Fatalf("the bar is not erased at the end: %q", o.stderr)
	}
	o = tetherEnv(t, "", false, args...).mustSucceed(t)
	if o.stderr != "" {
		t.Fatalf("output on a non-terminal stderr: %q", o.stderr)
	}
}

func TestBenchPipelined(t *testing.T) {
	uri := startBroker(t)
	o := tether(t, "", "bench", "--uri", uri, "--json", "--confirm", "--pipelined", "--inflight", "64", "--count", "2000", "--size", "100").mustSucceed(t)
	var res result
	if err := json.Unmarshal([]byte(o.stdout), &res); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, o.stdout)
	}
	if !res.Scenario.Pipelined || res.Sent != 2000 || res.Received != 2000 || !res.Complete {
		t.Fatalf("result: %+v", res)
	}
	if l := res.ConfirmLatency; l == nil || l.P50 <= 0 {
		t.Fatalf("confirm latency: %+v", l)
	}
	if o := tether(t, "", "bench", "--uri", uri, "--pipelined"); o.code == exitOK || !strings.Contains(o.stderr, "--pipelined needs confirmed sends") {
		t.Fatalf("--pipelined without confirmed sends: exit %d, %s", o.code, o.stderr)
	}
}
