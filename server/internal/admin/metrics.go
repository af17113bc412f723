package admin

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tethermq/tether/server/internal/broker"
)

// Metrics follow Prometheus' naming: the tether_ prefix, base units
// (seconds, bytes), _total on counters, ratios from 0 to 1. The only label
// whose values grow with use is destination (a queue, or a topic for the
// subscriptions' sums); protocol, role, state and link take a handful of
// values fixed by the configuration.
//
// Mapping to ActiveMQ's DestinationViewMBean, for dashboards ported from
// jmx_exporter: QueueSize = tether_queue_messages, EnqueueCount =
// tether_queue_messages_enqueued_total, DequeueCount =
// tether_queue_messages_dequeued_total, ConsumerCount =
// tether_queue_consumers, InFlightCount = tether_queue_messages_in_flight.

// commitMetrics are fed by the committer's observer: they outlive any one
// broker instance, so a restart of the master in the same process keeps
// counting.
type commitMetrics struct {
	duration *prometheus.HistogramVec
	batch    prometheus.Histogram
	errors   prometheus.Counter
}

func (c *commitMetrics) observe(ci broker.CommitInfo) {
	sync := "false"
	if ci.Sync {
		sync = "true"
	}
	c.duration.WithLabelValues(sync).Observe(ci.Took.Seconds())
	c.batch.Observe(float64(ci.Ops))
	if ci.Err != nil {
		c.errors.Inc()
	}
}

func (h *Handler) newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	h.commits = commitMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tether_store_commit_duration_seconds",
			Help: "Time the store took to write one batch; sync=\"true\" batches include the fsync that makes them durable.",
			// 50 us to 1 s: an O_DSYNC append on a fast disk to a stalled one.
			Buckets: prometheus.ExponentialBuckets(50e-6, 2.5, 13),
		}, []string{"sync"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tether_store_commit_batch_operations",
			Help:    "Broker operations (sends, acknowledgements, moves) written by one store batch: group commit at work.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tether_store_commit_errors_total", Help: "Store batches that failed (a full disk, an I/O error).",
		}),
	}
	reg.MustRegister(h.commits.duration, h.commits.batch, h.commits.errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{h: h})
	return reg
}

func (h *Handler) metricsHandler() http.Handler {
	return promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{ErrorLog: slogAdapter{h}, Registry: h.reg})
}

type slogAdapter struct{ h *Handler }

func (a slogAdapter) Println(v ...any) { a.h.log.Error("metrics", "err", v) }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	dInfo       = desc("tether_broker_info", "The broker's name (value 1).", "broker")
	dRole       = desc("tether_broker_role", "1 for the role this broker has now (master, slave, starting, stopped), 0 for the others.", "role")
	dStart      = desc("tether_broker_start_time_seconds", "When the process started serving its admin port, as a Unix time.")
	dTakeovers  = desc("tether_broker_takeovers_total", "Times this broker became master after waiting as a slave (failovers to it).")
	dLockLosses = desc("tether_broker_lock_losses_total", "Times this broker stopped serving as master because it lost the lock.")

	dQMessages  = desc("tether_queue_messages", "Messages waiting in the queue, in memory or paged out to disk (ActiveMQ's QueueSize less in-flight).", "destination")
	dQOnDisk    = desc("tether_queue_messages_on_disk", "Waiting messages paged out to the store only.", "destination")
	dQInFlight  = desc("tether_queue_messages_in_flight", "Messages delivered to consumers and not yet acknowledged.", "destination")
	dQConsumers = desc("tether_queue_consumers", "Consumers of the queue (network bridges' included).", "destination")
	dQGroups    = desc("tether_queue_message_groups", "Message groups the queue tracks (owned or with messages).", "destination")
	dQEnq       = desc("tether_queue_messages_enqueued_total", "Messages added to the queue since the broker started.", "destination")
	dQDeq       = desc("tether_queue_messages_dequeued_total", "Messages acknowledged (consumed) from the queue since the broker started.", "destination")
	dQExp       = desc("tether_queue_messages_expired_total", "Messages of the queue that expired.", "destination")
	dQDLQ       = desc("tether_queue_messages_dead_lettered_total", "Messages of the queue moved to the dead-letter queue.", "destination")

	dTSubs     = desc("tether_topic_subscriptions", "Subscriptions on the topic (durable ones included, active or not).", "destination")
	dTMessages = desc("tether_topic_subscription_messages", "Messages waiting in the topic's subscriptions, summed.", "destination")
	dTConsumer = desc("tether_topic_consumers", "Active consumers of the topic's subscriptions.", "destination")
	dTEnq      = desc("tether_topic_subscription_messages_enqueued_total", "Messages added to the topic's subscriptions, summed (one publish counts once per subscription).", "destination")
	dTDeq      = desc("tether_topic_subscription_messages_dequeued_total", "Messages acknowledged from the topic's subscriptions, summed.", "destination")

	dConns        = desc("tether_connections", "Open client connections by protocol (network bridges count as network, the broker's own as internal).", "protocol")
	dBlocked      = desc("tether_producers_blocked", "Sends waiting now for memory (producer flow control).")
	dBlockedTotal = desc("tether_producer_flow_control_waits_total", "Sends that had to wait for memory (producer flow control).")
	dStoreBlocked = desc("tether_producers_blocked_store", "Persistent sends waiting now for store space (storeUsage).")
	dStoreWaits   = desc("tether_store_flow_control_waits_total", "Persistent sends that had to wait for store space (storeUsage).")
	dStoreRefused = desc("tether_store_sends_refused_total", "Persistent sends refused for lack of store space (a full disk, or sendFailIfNoSpaceAfterTimeout).")

	dBridgeUp  = desc("tether_network_bridge_up", "1 while the network bridge is connected to its remote broker, 0 while it is connecting.", "link")
	dBridgeFwd = desc("tether_network_bridge_forwarded_messages_total", "Messages the bridge forwarded and the remote broker confirmed.", "link")

	dStoreDisk   = desc("tether_store_disk_bytes", "What the store occupies on disk (what storeUsage limits).")
	dStoreLive   = desc("tether_store_live_bytes", "The part of the store's files holding live data.")
	dStoreLimit  = desc("tether_store_limit_bytes", "The store usage limit in force (storeUsage).")
	dStoreRatio  = desc("tether_store_usage_ratio", "tether_store_disk_bytes / tether_store_limit_bytes.")
	dStoreNoSp   = desc("tether_store_no_space", "1 while the disk is full and persistent sends are refused.")
	dMemBytes    = desc("tether_memory_bytes", "Message bytes held in memory against the memory limit.")
	dMemLimit    = desc("tether_memory_limit_bytes", "The memory limit (memoryUsage).")
	dMemRatio    = desc("tether_memory_usage_ratio", "tether_memory_bytes / tether_memory_limit_bytes.")
	dCheckpoints = desc("tether_store_checkpoints_total", "Index checkpoints the journal wrote.")
	dCompacted   = desc("tether_store_compacted_segments_total", "Journal files compacted (live records relocated).")
	dCompactedB  = desc("tether_store_compacted_bytes_total", "Bytes of live records relocated by compaction.")
	dRemoved     = desc("tether_store_removed_segments_total", "Journal files removed after they held nothing live.")
)

// stateCollector reads the broker's state at scrape time, so that every
// gauge is what the API shows at that moment.
type stateCollector struct{ h *Handler }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dInfo, dRole, dStart, dTakeovers, dLockLosses, dQMessages, dQOnDisk, dQInFlight,
		dQConsumers, dQGroups, dQEnq, dQDeq, dQExp, dQDLQ, dTSubs, dTMessages, dTConsumer, dTEnq, dTDeq, dConns, dBlocked,
		dBlockedTotal, dStoreBlocked, dStoreWaits, dStoreRefused, dBridgeUp, dBridgeFwd, dStoreDisk, dStoreLive, dStoreLimit, dStoreRatio, dStoreNoSp, dMemBytes,
		dMemLimit, dMemRatio, dCheckpoints, dCompacted, dCompactedB, dRemoved} {
		ch <- d
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.h
	role, _, takeovers, losses := h.roleInfo()
	gauge(ch, dInfo, 1, h.src.Name)
	for _, r := range []string{"master", "slave", "starting", "stopped"} {
		gauge(ch, dRole, boolf(role == r), r)
	}
	gauge(ch, dStart, float64(h.started.UnixNano())/1e9)
	counter(ch, dTakeovers, float64(takeovers))
	counter(ch, dLockLosses, float64(losses))
	for _, b := range h.bridges() {
		gauge(ch, dBridgeUp, boolf(b.State == "up"), b.Link)
		counter(ch, dBridgeFwd, float64(b.Forwarded), b.Link)
	}
	b := h.broker()
	if b == nil {
		return
	}
	type topicSum struct {
		subs, consumers, msgs int
		enq, deq              uint64
	}
	topics := map[string]*topicSum{}
	for _, s := range b.Stats() {
		if strings.HasPrefix(s.Destination, "topic://") {
			t := topics[s.Destination]
			if t == nil {
				t = &topicSum{}
				topics[s.Destination] = t
			}
			t.subs++
			t.consumers += s.Consumers
			t.msgs += s.Pending
			t.enq += s.Enqueued
			t.deq += s.Dequeued
			continue
		}
		d := s.Destination
		gauge(ch, dQMessages, float64(s.Pending), d)
		gauge(ch, dQOnDisk, float64(s.OnDisk), d)
		gauge(ch, dQInFlight, float64(s.InFlight), d)
		gauge(ch, dQConsumers, float64(s.Consumers), d)
		gauge(ch, dQGroups, float64(s.Groups), d)
		counter(ch, dQEnq, float64(s.Enqueued), d)
		counter(ch, dQDeq, float64(s.Dequeued), d)
		counter(ch, dQExp, float64(s.Expired), d)
		counter(ch, dQDLQ, float64(s.DeadLettered), d)
	}
	for d, t := range topics {
		gauge(ch, dTSubs, float64(t.subs), d)
		gauge(ch, dTConsumer, float64(t.consumers), d)
		gauge(ch, dTMessages, float64(t.msgs), d)
		counter(ch, dTEnq, float64(t.enq), d)
		counter(ch, dTDeq, float64(t.deq), d)
	}
	conns := map[string]int{"stomp": 0, "amqp": 0, "mqtt": 0, "network": 0}
	for _, cn := range b.Connections() {
		conns[cn.Protocol]++
	}
	for p, n := range conns {
		gauge(ch, dConns, float64(n), p)
	}
	waiting, waited := b.FlowControl()
	gauge(ch, dBlocked, float64(waiting))
	counter(ch, dBlockedTotal, float64(waited))
	sWaiting, sWaited, sRefused := b.StoreFlowControl()
	gauge(ch, dStoreBlocked, float64(sWaiting))
	counter(ch, dStoreWaits, float64(sWaited))
	counter(ch, dStoreRefused, float64(sRefused))
	st := h.src.Store()
	gauge(ch, dStoreDisk, float64(st.DiskBytes))
	gauge(ch, dStoreLive, float64(st.LiveBytes))
	gauge(ch, dStoreLimit, float64(st.StoreUsageLimit))
	if st.StoreUsageLimit > 0 {
		gauge(ch, dStoreRatio, float64(st.DiskBytes)/float64(st.StoreUsageLimit))
	}
	gauge(ch, dStoreNoSp, boolf(st.NoSpace))
	gauge(ch, dMemBytes, float64(st.MemoryBytes))
	gauge(ch, dMemLimit, float64(st.MemoryLimit))
	if st.MemoryLimit > 0 {
		gauge(ch, dMemRatio, float64(st.MemoryBytes)/float64(st.MemoryLimit))
	}
	counter(ch, dCheckpoints, float64(st.Checkpoints))
	counter(ch, dCompacted, float64(st.SegmentsRelocated))
	counter(ch, dCompactedB, float64(st.BytesRelocated))
	counter(ch, dRemoved, float64(st.SegmentsRemoved))
}
