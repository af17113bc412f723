package main

import (
	"fmt"
	"math"
	"strings"
)

// renderReading writes the short interpretation. Every sentence is built
// from this run's numbers, and conditional wording follows them, so the text
// stays true when a re-run changes the figures.
func (r *report) renderReading(b *strings.Builder) {
	b.WriteString("## Reading\n\n")
	cpu := func(id, broker string) float64 {
		return r.med(id, broker, func(s sample) float64 { return cpuPerMessage(s.brokerCPU, s.Sent) })
	}
	client := func(id, broker string) float64 {
		return r.med(id, broker, func(s sample) float64 { return cpuPerMessage(s.clientCPU, s.Sent) })
	}

	// (a)
	refA, amqA := r.med("a", nameRef, e2eRate), r.med("a", nameAMQ, e2eRate)
	fmt.Fprintf(b, "- **(a) non-persistent**: refbroker's end-to-end rate was %s ActiveMQ's (target 3x: %s). "+
		"Per message, refbroker used %.0f µs of CPU and ActiveMQ %.0f µs (%s as much), while the `tether` client "+
		"used %.0f µs and %.0f µs.",
		ratio(refA, amqA), verdict(refA/amqA >= 3), cpu("a", nameRef), cpu("a", nameAMQ),
		ratio(cpu("a", nameAMQ), cpu("a", nameRef)), client("a", nameRef), client("a", nameAMQ))
	if refSend := r.med("a", nameRef, sendRate); refA >= 0.97*refSend {
		b.WriteString(" refbroker kept up with the producer (end to end equals the send rate), so the single SDK " +
			"producer, which writes each frame with its own system call, set the pace rather than the broker.")
	}
	if client("a", nameRef) > cpu("a", nameRef) {
		b.WriteString(" With refbroker the client is the larger consumer of the two cores, so the end-to-end ratio " +
			"understates the brokers' difference; the CPU ratio is the better measure of the brokers themselves.")
	}
	b.WriteString(" The broker's STOMP path alone, driven by go-stomp on both ends (`go test -bench STOMP ./server/internal/stomp`, " +
		"see the README), is measured without the SDK in the way.")
	b.WriteString("\n")

	// (b)
	refB, amqB := r.med("b", nameRef, sendRate), r.med("b", nameAMQ, sendRate)
	fmt.Fprintf(b, "- **(b) persistent, one in flight**: %s (target 2x: %s). Each message waits for its own "+
		"fdatasync, so the disk bounds both: refbroker reached %.0f%% and ActiveMQ %.0f%% of the %s fdatasync/s this "+
		"disk does one at a time; the confirmation p50 was %s ms and %s ms.",
		ratio(refB, amqB), verdict(refB/amqB >= 2), 100*refB/r.disk1().PerSecond, 100*amqB/r.disk1().PerSecond,
		num(r.disk1().PerSecond), ms(r.confirmP50("b", nameRef)), ms(r.confirmP50("b", nameAMQ)))
	if refB > 0 && r.disk1().PerSecond > 0 {
		fmt.Fprintf(b, " At %s msgs/s a refbroker message takes %.0f µs, of which the fdatasync is about %.0f µs; the "+
			"rest is the round trip through client and broker, which is where (b) has room to improve.",
			num(refB), 1e6/refB, 1e6/r.disk1().PerSecond)
	}
	b.WriteString("\n")

	// (c)
	refC, amqC := r.med("c", nameRef, sendRate), r.med("c", nameAMQ, sendRate)
	_, _, ceil := r.ceiling()
	fmt.Fprintf(b, "- **(c) persistent, 400 in flight**: refbroker confirmed %s msgs/s, %.0f%% of the %s msgs/s ceiling "+
		"derived below (target 50%%: %s), %s its own rate with one in flight: group commit at work. ActiveMQ went "+
		"from %s to %s msgs/s (%s); refbroker/ActiveMQ is %s.\n",
		num(refC), 100*refC/ceil, num(ceil), verdict(refC >= ceil/2), ratio(refC, refB),
		num(amqB), num(amqC), ratio(amqC, amqB), ratio(refC, amqC))

	// (d)
	refD, refD0 := r.med("d", nameRef, e2eRate), r.med("d0", nameRef, e2eRate)
	amqD, amqD0 := r.med("d", nameAMQ, e2eRate), r.med("d0", nameAMQ, e2eRate)
	fmt.Fprintf(b, "- **(d) 1,000 groups over 4 consumers**: refbroker %s msgs/s with groups, %s without (groups cost "+
		"%s); ActiveMQ %s and %s (%s). With groups refbroker/ActiveMQ is %s.\n",
		num(refD), num(refD0), cost(refD, refD0), num(amqD), num(amqD0), cost(amqD, amqD0), ratio(refD, amqD))

	// (e)
	for _, pair := range r.failoverPairs() {
		ref, amq := pair[0], pair[1]
		if ref == nil || amq == nil {
			continue
		}
		fmt.Fprintf(b, "- **(e) failover, refbroker %s vs ActiveMQ %s**: median %s vs %s over %d and %d kills (%s faster).",
			ref.lock, amq.lock, dur(ref.median()), dur(amq.median()), len(ref.times), len(amq.times),
			ratio(amq.median().Seconds(), ref.median().Seconds()))
		switch {
		case strings.HasPrefix(ref.lock, "blocking") && strings.Contains(amq.lock, "10 s"):
			b.WriteString(" refbroker's slave blocks in `flock` and wakes the moment the kernel releases the dead " +
				"master's lock; ActiveMQ's slave retries every `lockAcquireSleepInterval`, so it waits half the " +
				"interval on average before recovering the store.")
		case strings.HasPrefix(ref.lock, "blocking"):
			b.WriteString(" Even polling every 200 ms, ActiveMQ waits 100 ms on average for its next attempt, then " +
				"recovers KahaDB and starts its connectors.")
		default:
			b.WriteString(" Polling at the same interval, both wait 100 ms on average for the next attempt; the " +
				"rest is recovering the store and opening the port.")
		}
		b.WriteString("\n")
	}

	// (f)
	if idle, ok := r.memIdle[nameRef]; ok {
		fmt.Fprintf(b, "- **(f) memory**: refbroker idles at %.1f MiB (target 30 MB: %s) against ActiveMQ's %.1f MiB, "+
			"and held %.1f MiB after (a)-(d) against %.1f MiB (ActiveMQ's heap is capped at 512 MiB).\n",
			idle.rssMiB(), verdict(idle.RSSKiB*1024 <= 30_000_000), r.memIdle[nameAMQ].rssMiB(),
			r.memAfter[nameRef].rssMiB(), r.memAfter[nameAMQ].rssMiB())
	}
	b.WriteString("\n")
}

// cost describes how much slower with is than without.
func cost(with, without float64) string {
	if math.IsNaN(with) || math.IsNaN(without) || without == 0 {
		return "n/a"
	}
	d := 100 * (1 - with/without)
	if d <= 0 {
		return "nothing measurable"
	}
	return fmt.Sprintf("%.0f%%", d)
}

// confirmP50 is the median over rounds of the confirmation latency p50.
func (r *report) confirmP50(id, broker string) float64 {
	return r.med(id, broker, func(s sample) float64 {
		if s.ConfirmLatency == nil {
			return math.NaN()
		}
		return s.ConfirmLatency.P50
	})
}
