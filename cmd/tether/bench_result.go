package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// result is a finished benchmark; its JSON form is --json's output.
type result struct {
	Scenario scenario `json:"scenario"`
	Sent     int64    `json:"sent"`
	Received int64    `json:"received"`
	// Expected is what the consumers had to receive (sent, times the
	// consumers for a topic); Complete is Received >= Expected.
	Expected    int64   `json:"expected"`
	Complete    bool    `json:"complete"`
	SendSeconds float64 `json:"send_seconds"`
	// E2ESeconds runs from the first send to the last receive.
	E2ESeconds float64 `json:"e2e_seconds"`
	SendRate   float64 `json:"send_rate"`
	E2ERate    float64 `json:"e2e_rate"`
	// Latency is send to receive; ConfirmLatency is send to the broker's
	// confirmation (confirmed sends only).
	Latency        *latencies `json:"latency_ms,omitempty"`
	ConfirmLatency *latencies `json:"confirm_latency_ms,omitempty"`
}

// latencies are in milliseconds.
type latencies struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func summarize(h *histogram) *latencies {
	if h.total.Load() == 0 {
		return nil
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return &latencies{P50: ms(h.quantile(0.5)), P99: ms(h.quantile(0.99)), Max: ms(h.quantile(1))}
}

func (r *benchRun) result(sendTime time.Duration) *result {
	res := &result{
		Scenario:       r.sc,
		Sent:           r.sent.Load(),
		Received:       r.received.Load(),
		SendSeconds:    sendTime.Seconds(),
		Latency:        summarize(&r.e2e),
		ConfirmLatency: summarize(&r.confirm),
	}
	if r.sc.Consumers > 0 {
		res.Expected = r.expected(res.Sent)
	}
	res.Complete = res.Received >= res.Expected
	if sendTime > 0 {
		res.SendRate = float64(res.Sent) / sendTime.Seconds()
	}
	if e2e := time.Duration(r.lastRecv.Load()); e2e > 0 {
		res.E2ESeconds = e2e.Seconds()
		res.E2ERate = float64(res.Received) / e2e.Seconds()
	}
	return res
}

// describe is the one-line summary of a scenario.
func (sc *scenario) describe() string {
	var parts []string
	parts = append(parts, plural(sc.Producers, "producer"))
	if sc.Confirm {
		parts[0] += fmt.Sprintf(" x %d in flight", sc.InFlight)
		if sc.Pipelined {
			parts[0] += " (pipelined)"
		}
	}
	parts = append(parts, plural(sc.Consumers, "consumer")+" (ack "+sc.Ack+")")
	parts = append(parts, fmt.Sprintf("%d B", sc.Size))
	switch {
	case sc.Persistent:
		parts = append(parts, "persistent")
	case sc.Confirm:
		parts = append(parts, "non-persistent, confirmed")
	default:
		parts = append(parts, "non-persistent, unconfirmed")
	}
	if sc.Groups > 0 {
		parts = append(parts, plural(sc.Groups, "group"))
	}
	if sc.Count > 0 {
		parts = append(parts, plural(int(sc.Count), "message"))
	} else {
		parts = append(parts, "for "+sc.duration.String())
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// writeTable prints the human-readable report.
func (res *result) writeTable(w io.Writer) error {
	sc := &res.Scenario
	var b strings.Builder
	fmt.Fprintf(&b, "tether bench  %s  %s\n  %s\n\n", sc.URI, sc.Destination, sc.describe())
	const cols = "%-14s %10s %10s %10s\n"
	fmt.Fprintf(&b, cols, "", "messages", "seconds", "msgs/s")
	fmt.Fprintf(&b, cols, "sent", fmt.Sprint(res.Sent), fmt.Sprintf("%.3f", res.SendSeconds), fmt.Sprintf("%.0f", res.SendRate))
	if sc.Consumers > 0 {
		fmt.Fprintf(&b, cols, "end to end", fmt.Sprint(res.Received), fmt.Sprintf("%.3f", res.E2ESeconds), fmt.Sprintf("%.0f", res.E2ERate))
	}
	fmt.Fprintf(&b, "\n"+cols, "latency (ms)", "p50", "p99", "max")
	row := func(name string, l *latencies) {
		if l == nil {
			fmt.Fprintf(&b, cols, name, "-", "-", "-")
			return
		}
		fmt.Fprintf(&b, cols, name, fmt.Sprintf("%.3f", l.P50), fmt.Sprintf("%.3f", l.P99), fmt.Sprintf("%.3f", l.Max))
	}
	if sc.Consumers > 0 {
		row("end to end", res.Latency)
	}
	if sc.Confirm {
		row("send confirm", res.ConfirmLatency)
	}
	if !res.Complete {
		fmt.Fprintf(&b, "\nINCOMPLETE: received %d of %d expected message(s)\n", res.Received, res.Expected)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (res *result) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
