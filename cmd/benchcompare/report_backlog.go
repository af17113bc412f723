package main

import (
	"fmt"
	"strings"
	"time"
)

// summarizeBacklog adds the (g) rows to the results table.
func (r *report) summarizeBacklog(b *strings.Builder) {
	ref, amq := r.backlog[nameRef], r.backlog[nameAMQ]
	if ref == nil || amq == nil || ref.err != nil || amq.err != nil {
		return
	}
	title := fmt.Sprintf("%s x %s persistent backlog, %d producers x %d in flight, no consumer, default config",
		num(float64(ref.messages)), byteSize(int64(ref.size)), backlogProducers, backlogInFlight)
	fmt.Fprintf(b, "| (g) | %s | stored msgs/s | %s | %s | %s | ≥ 2x: %s |\n", title,
		num(ref.storeRate), num(amq.storeRate), ratio(ref.storeRate, amq.storeRate), verdict(ref.storeRate >= 2*amq.storeRate))
	fmt.Fprintf(b, "| (g) | the same | broker peak RSS MiB while storing | %.1f | %.1f | %s | ≤ 150 MiB: %s |\n",
		ref.storePeak.peakMiB(), amq.storePeak.peakMiB(), ratio(amq.storePeak.peakMiB(), ref.storePeak.peakMiB()),
		verdict(ref.storePeak.peakMiB() <= 150))
	fmt.Fprintf(b, "| (g) | the same | kill -9 to the STOMP port accepting | %s | %s | %s | ≤ 1 s: %s |\n",
		dur(ref.restart), dur(amq.restart), ratio(amq.restart.Seconds(), ref.restart.Seconds()), verdict(ref.restart <= time.Second))
	fmt.Fprintf(b, "| (g) | the same, after the restart | drained msgs/s, 1 consumer | %s | %s | %s | ≥ 2x: %s |\n",
		num(ref.drainRate), num(amq.drainRate), ratio(ref.drainRate, amq.drainRate), verdict(ref.drainRate >= 2*amq.drainRate))
	fmt.Fprintf(b, "| (g) | the same, 90%% consumed | data directory MiB (÷ live bodies) | %s | %s | %s | ≤ 1.5x within a minute: %s |\n",
		settled(ref), settled(amq), ratio(float64(amq.diskAfter90), float64(ref.diskAfter90)), verdict(ref.settled))
}

func settled(g *backlogResult) string {
	s := fmt.Sprintf("%.0f (%.2fx)", float64(g.diskAfter90)/(1<<20), float64(g.diskAfter90)/float64(g.live90))
	if g.settled {
		return s + fmt.Sprintf(" after %s", dur(g.settle))
	}
	return s + " after 1 min"
}

// renderBacklog is (g)'s section: how it was measured and every figure.
func (r *report) renderBacklog(b *strings.Builder) {
	if len(r.backlog) == 0 {
		return
	}
	b.WriteString("## Backlog bounded by disk (g)\n\n")
	fmt.Fprintf(b, "Each broker starts fresh with its default configuration (refbroker: no config file; ActiveMQ: the "+
		"scripts' activemq.xml, KahaDB). `tether bench --producers %d --inflight %d --persistent --consumers 0 --size 4KiB` "+
		"stores the backlog with no consumer; the broker is killed with SIGKILL and restarted, timed until its STOMP port "+
		"answers CONNECT; one go-stomp consumer (an ack per message, prefetch 1000) drains 90%%, disconnecting; the data directory's allocated size "+
		"is then watched for up to a minute for 1.5x the bodies left; a consumer drains the rest. The drain rate leaves "+
		"that minute out.\n\n", backlogProducers, backlogInFlight)
	b.WriteString("| broker | stored msgs/s | data dir after storing | peak RSS storing | restart | RSS after restart | drained msgs/s | peak RSS after drain | data dir at 90% consumed |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, name := range []string{nameRef, nameAMQ} {
		g := r.backlog[name]
		if g == nil {
			continue
		}
		if g.err != nil {
			fmt.Fprintf(b, "| %s | failed: %s ||||||||\n", name, strings.ReplaceAll(firstLine(g.err.Error()), "|", "\\|"))
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %.0f MiB | %.1f MiB | %s | %.1f MiB | %s | %.1f MiB | %s |\n", name,
			num(g.storeRate), float64(g.diskFull)/(1<<20), g.storePeak.peakMiB(), dur(g.restart), g.restartRSS.rssMiB(),
			num(g.drainRate), g.drainPeak.peakMiB(), settled(g))
	}
	b.WriteString("\n")
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
