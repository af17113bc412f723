package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/internal/admin"
	"github.com/tethermq/tether/server/internal/broker"
)

func TestAdminAPI(t *testing.T) {
	cb := newConsoleBroker(t)

	var ov admin.Overview
	cb.getJSON(t, "/api/overview", &ov)
	if ov.Name != "console-test" || ov.Role != "master" || ov.Store == nil || ov.Store.MemoryLimit != 64<<20 ||
		len(ov.Connectors) != 1 || ov.Connectors[0].Address == "" || ov.Connections["stomp"] != 2 ||
		len(ov.Bridges) != 1 || ov.Bridges[0].State != "up" || ov.Messages != 6 {
		t.Fatalf("overview: %+v", ov)
	}

	var qs []broker.QueueDetail
	cb.getJSON(t, "/api/queues", &qs)
	byName := map[string]broker.QueueDetail{}
	for _, q := range qs {
		byName[q.Destination] = q
	}
	if o := byName["queue://orders"]; o.Pending != 5 || o.Enqueued != 5 || o.Consumers != 0 {
		t.Fatalf("orders: %+v", o)
	}
	g := byName["queue://grouped"]
	if g.Consumers != 1 || g.InFlight != 4 || len(g.GroupOwners) != 2 || g.ConsumerList[0].Groups != 2 {
		t.Fatalf("grouped: %+v", g)
	}
	for _, o := range g.GroupOwners {
		if !o.Owned || o.Owner != g.ConsumerList[0].ID || o.InFlight != 2 {
			t.Fatalf("group owner: %+v", o)
		}
	}

	var subs []broker.QueueDetail
	cb.getJSON(t, "/api/topics", &subs)
	i := slices.IndexFunc(subs, func(d broker.QueueDetail) bool { return d.Durable })
	if i < 0 || subs[i].Destination != "topic://prices" || subs[i].ClientID != "dash-client" || subs[i].Subscription != "dash" ||
		subs[i].Pending != 3 || subs[i].Active {
		t.Fatalf("subscriptions: %+v", subs)
	}

	var conns []broker.ConnectionInfo
	cb.getJSON(t, "/api/connections", &conns)
	protos := map[string]int{}
	for _, c := range conns {
		protos[c.Protocol]++
		if c.Protocol == "stomp" && (c.User != "app" || !strings.HasPrefix(c.RemoteAddr, "127.0.0.1:")) {
			t.Fatalf("connection: %+v", c)
		}
	}
	if protos["stomp"] != 2 || protos["network"] != 1 {
		t.Fatalf("connections: %+v", conns)
	}

	var bridges []admin.BridgeView
	cb.getJSON(t, "/api/bridges", &bridges)
	if len(bridges) != 1 || bridges[0].Remote != "remote" || bridges[0].State != "up" {
		t.Fatalf("bridges: %+v", bridges)
	}

	// Browse: paged, headers and bodies as sent (the HTML stays text).
	var msgs []admin.MessageView
	cb.getJSON(t, "/api/queues/orders/messages?offset=1&limit=3", &msgs)
	if len(msgs) != 3 || msgs[0].Body != "order-2 <b>not bold</b>" || !msgs[0].Persistent ||
		!slices.Contains(msgs[0].Headers, broker.Header{Name: "region", Value: "eu"}) {
		t.Fatalf("browse: %+v", msgs)
	}
	if code, _ := cb.do(t, "GET", "/api/queues/orders/messages?limit=100000", nil, nil); code != http.StatusBadRequest {
		t.Fatalf("an oversized page = %d, want 400", code)
	}

	// The dead letter goes back to its queue.
	var dead []admin.MessageView
	cb.getJSON(t, "/api/queues/ActiveMQ.DLQ/messages", &dead)
	if len(dead) != 1 || dead[0].Body != "too late" {
		t.Fatalf("DLQ: %+v", dead)
	}
	var moved map[string]string
	if err := json.Unmarshal(cb.post(t, "/api/dlq/move?id="+dead[0].ID, http.StatusOK), &moved); err != nil || moved["movedTo"] != "queue://expiring" {
		t.Fatalf("move: %v %v", moved, err)
	}
	var expiring broker.QueueDetail
	cb.getJSON(t, "/api/queues/expiring", &expiring)
	if expiring.Pending != 1 {
		t.Fatalf("expiring after the move: %+v", expiring)
	}
	cb.post(t, "/api/dlq/move?id="+dead[0].ID, http.StatusNotFound)

	// Purge, delete, reset groups; refusals.
	var purged map[string]int
	if err := json.Unmarshal(cb.post(t, "/api/queues/orders/purge", http.StatusOK), &purged); err != nil || purged["purged"] != 5 {
		t.Fatalf("purge: %v %v", purged, err)
	}
	cb.post(t, "/api/queues/grouped/delete", http.StatusConflict) // it has a consumer
	cb.post(t, "/api/queues/nope/purge", http.StatusNotFound)
	cb.post(t, "/api/queues/grouped/groups/reset", http.StatusOK)
	cb.post(t, "/api/queues/orders/delete", http.StatusOK)
	cb.post(t, "/api/subscriptions/dash-client/dash/delete", http.StatusOK)
	if _, err := cb.s.Broker().Queue("orders", 0); err == nil {
		t.Fatal("queue://orders still exists after its delete")
	}
	if code, _ := cb.do(t, "GET", "/api/queues/orders/purge", nil, nil); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET of a mutation = %d, want 405", code)
	}
	if code, _ := cb.do(t, "POST", "/api/queues/expiring/purge", nil, map[string]string{"Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden {
		t.Fatalf("cross-site purge = %d, want 403", code)
	}
	if got := adminRequest(t, "GET", cb.base+"/api/queues", "", "", nil); got != http.StatusUnauthorized {
		t.Fatalf("unauthenticated = %d, want 401", got)
	}

	// A name with a slash, spaces and query characters, escaped in the
	// path, reaches its queue in the API and in the console's links.
	const odd = "we/ird q?a=1&b"
	sess, err := cb.s.Broker().NewSession(broker.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	done := make(chan error, 1)
	sess.Send(cb.ctx, &broker.Message{Dest: broker.Destination{Kind: broker.Queue, Name: odd}, Body: []byte("odd"), Persistent: true}, "",
		func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var oddQ broker.QueueDetail
	cb.getJSON(t, "/api/queues/"+url.PathEscape(odd), &oddQ)
	if oddQ.Destination != "queue://"+odd || oddQ.Pending != 1 {
		t.Fatalf("odd queue: %+v", oddQ)
	}
	code, page := cb.do(t, "GET", "/queues", nil, nil)
	link := `href="/queues/` + url.PathEscape(odd) + `"`
	if code != http.StatusOK || !strings.Contains(string(page), strings.ReplaceAll(link, "&", "&amp;")) {
		t.Fatalf("the queues page has no link %s", link)
	}
	code, page = cb.do(t, "GET", "/queues?q=ird", nil, nil)
	if code != http.StatusOK || !strings.Contains(string(page), strings.ReplaceAll(link, "&", "&amp;")) || strings.Contains(string(page), `data-queue="grouped"`) {
		t.Fatalf("the queues page filtered by name: %d %s", code, page)
	}
	code, page = cb.do(t, "GET", "/confirm?action=purge&queue="+url.QueryEscape(odd), nil, nil)
	if code != http.StatusOK || !strings.Contains(string(page), `name="queue" value="we/ird q?a=1&amp;b"`) {
		t.Fatalf("confirmation page: %d %s", code, page)
	}
}

func TestMetrics(t *testing.T) {
	cb := newConsoleBroker(t)
	ctx := cb.ctx
	// More workload: two of the orders consumed and acknowledged, three
	// messages forwarded over the bridge to a consumer on the remote.
	local, err := client.Dial(ctx, "stomp://"+cb.s.Addr("stomp"), client.WithCredentials("app", "apppw"))
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	orders, err := local.Subscribe(ctx, "queue://orders", client.AckIndividual, client.Prefetch(2))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		m, err := orders.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Ack(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := orders.Unsubscribe(ctx); err != nil {
		t.Fatal(err)
	}
	remote, err := client.Dial(ctx, "stomp://"+cb.remote.Addr("stomp"))
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	bridged, err := remote.Subscribe(ctx, "queue://bridged")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := local.Send(ctx, "queue://bridged", []byte(fmt.Sprint(i)), client.Persistent()); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if _, err := bridged.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		bs := cb.s.NetworkBridges()
		return len(bs) == 1 && bs[0].Forwarded == 3
	}, "the bridge's forwarded count is not 3")
	cb.eventually(t, "the orders' acks", func(b *broker.Broker) bool {
		q, err := b.Queue("orders", 0)
		return err == nil && q.Dequeued == 2 && q.Consumers == 0
	})

	code, body := cb.do(t, "GET", "/metrics", nil, map[string]string{"Accept": "text/plain"})
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	value := func(name string, labels ...string) float64 {
		t.Helper()
		f := families[name]
		if f == nil {
			t.Fatalf("no metric family %s", name)
		}
	next:
		for _, m := range f.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
		t.Fatalf("%s has no series %v", name, labels)
		return 0
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tether_queue_messages", []string{"destination", "queue://orders"}, 3},
		{"tether_queue_messages_enqueued_total", []string{"destination", "queue://orders"}, 5},
		{"tether_queue_messages_dequeued_total", []string{"destination", "queue://orders"}, 2},
		{"tether_network_bridge_forwarded_messages_total", []string{"link", cb.s.NetworkBridges()[0].Link}, 3},
		{"tether_queue_consumers", []string{"destination", "queue://grouped"}, 1},
		{"tether_queue_messages_in_flight", []string{"destination", "queue://grouped"}, 4},
		{"tether_queue_message_groups", []string{"destination", "queue://grouped"}, 2},
		{"tether_queue_messages_expired_total", []string{"destination", "queue://expiring"}, 1},
		{"tether_queue_messages_dead_lettered_total", []string{"destination", "queue://expiring"}, 1},
		{"tether_queue_messages", []string{"destination", "queue://ActiveMQ.DLQ"}, 1},
		{"tether_topic_subscriptions", []string{"destination", "topic://prices"}, 1},
		{"tether_topic_subscription_messages", []string{"destination", "topic://prices"}, 3},
		{"tether_connections", []string{"protocol", "stomp"}, 3},
		{"tether_connections", []string{"protocol", "network"}, 1},
		{"tether_network_bridge_up", []string{"link", cb.s.NetworkBridges()[0].Link}, 1},
		{"tether_broker_role", []string{"role", "master"}, 1},
		{"tether_broker_role", []string{"role", "slave"}, 0},
		{"tether_memory_limit_bytes", nil, 64 << 20},
		{"tether_producers_blocked", nil, 0},
	} {
		if got := value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Group commit: every persistent send above went through a synced
	// batch, each counted once with its operations.
	if n := value("tether_store_commit_duration_seconds", "sync", "true"); n < 1 {
		t.Errorf("no synced commit observed")
	}
	if value("tether_store_disk_bytes") <= 0 || value("tether_store_limit_bytes") <= 0 {
		t.Errorf("store size not reported")
	}
	if value("go_goroutines") <= 0 {
		t.Errorf("no Go runtime metrics")
	}
	// Naming: counters end in _total, and no label takes open-ended values
	// except destination.
	bounded := map[string]bool{"destination": true, "protocol": true, "role": true, "link": true, "sync": true, "broker": true, "version": true}
	for name, f := range families {
		if !strings.HasPrefix(name, "tether_") {
			continue
		}
		if f.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s does not end in _total", name)
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !bounded[l.GetName()] {
					t.Errorf("%s has label %s", name, l.GetName())
				}
			}
		}
	}
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}
