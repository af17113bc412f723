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
	fmt.Fprintf(b, "- **(a) non-persistent**: refbroker moved %s of ActiveMQ's end-to-end rate (target 3x: %s). "+
		"Per message, refbroker used %.0f µs of CPU and ActiveMQ %.0f µs (%s), while the `tether` client used %.0f µs "+
		"and %.0f µs.",
		ratio(refA, amqA), verdict(refA/amqA >= 3), cpu("a", nameRef), cpu("a", nameAMQ),
		ratio(cpu("a", nameAMQ), cpu("a", nameRef))+" less for refbroker", client("a", nameRef), client("a", nameAMQ))
	if client("a", nameRef) > cpu("a", nameRef) {
		b.WriteString(" With refbroker the client is the larger consumer of the two cores, so the end-to-end ratio " +
			"understates the brokers' difference; the CPU ratio is the better measure of the brokers themselves.")
	}
	b.WriteString("\n")

	// (b)
	refB, amqB := r.med("b", nameRef, sendRate), r.med("b", nameAMQ, sendRate)
	fmt.Fprintf(b, "- **(b) persistent, one in flight**: %s (target 2x: %s). Each message waits for its own "+
		"fdatasync, so the disk bounds both: refbroker reached %.0f%% and ActiveMQ %.0f%% of the %s fdatasync/s this "+
		"disk does one at a time; the confirmation p50 was %s ms and %s ms.\n",
		ratio(refB, amqB), verdict(refB/amqB >= 2), 100*refB/r.disk1().PerSecond, 100*amqB/r.disk1().PerSecond,
		num(r.disk1().PerSecond), ms(r.confirmP50("b", nameRef)), ms(r.confirmP50("b", nameAMQ)))

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
		if strings.HasPrefix(ref.lock, "blocking") {
			b.WriteString(" refbroker's slave blocks in `flock` and wakes the moment the kernel releases the dead " +
				"master's lock; ActiveMQ's slave retries every `lockAcquireSleepInterval`, so it waits half the " +
				"interval on average before recovering the store.")
		} else {
			b.WriteString(" Polling at the same interval, both wait for the next retry; the rest is recovering the " +
				"store and opening the port.")
		}
		b.WriteString("\n")
	}

	// (f)
	if idle, ok := r.memIdle[nameRef]; ok {
		fmt.Fprintf(b, "- **(f) memory**: refbroker idles at %.1f MiB (target 30 MB: %s) against ActiveMQ's %.1f MiB, "+
			"and held %.1f MiB after (a)-(d) against %.1f MiB.\n",
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
