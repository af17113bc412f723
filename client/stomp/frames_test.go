package stomp

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/failover/session"
)

func TestCheck(t *testing.T) {
	good := []string{
		"tcp://h:61616", "ssl://h", "stomp://127.0.0.1:61613", "stomp+ssl://h:1",
		"tcp://h:1?keepAlive=false&tcpNoDelay=true&host=vh&connectionTimeout=500",
		"tcp://h:1?heartBeat=1000,0", "tcp://h:1?wireFormat.maxInactivityDuration=0",
	}
	for _, s := range good {
		u, _ := url.Parse(s)
		if err := (Dialer{}).Check(u); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := map[string]string{
		"amqp://h:1":                   "scheme",
		"tcp://h:99999":                "bad port",
		"tcp://h:1?soTimeout=5":        "unknown option",
		"tcp://h:1?heartBeat=10":       "send,receive",
		"tcp://h:1?keepAlive=perhaps":  "bad value",
		"tcp://h:1?heartBeat=-1,5":     "send,receive",
		"tcp://h:1?connectionTimeout=": "bad value",
		"tcp://u:p@h:1":                "WithCredentials",
	}
	for s, frag := range bad {
		u, _ := url.Parse(s)
		err := (Dialer{}).Check(u)
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("%s: %v, want an error about %s", s, err, frag)
		}
	}
	u, _ := url.Parse("ssl://broker.example")
	addr, _, _ := parseBroker(u)
	if addr != "broker.example:61617" {
		t.Errorf("default ssl port: %s", addr)
	}
}

func TestSendFrame(t *testing.T) {
	rt := session.Destination{Kind: session.Topic, Name: "replies"}
	m := &session.Outgoing{
		Destination: session.Destination{Kind: session.Queue, Name: "orders"},
		Body:        []byte("a\x00b"), Persistent: true, Priority: 0,
		Expires: time.UnixMilli(1_700_000_000_123), GroupID: "g", GroupSeq: -1,
		CorrelationID: "c", ReplyTo: &rt, DuplicateID: "d", Tx: "tx-1",
		Headers: map[string]string{"app": "v\nw"},
	}
	f := sendFrame(m)
	want := map[string]string{
		"destination": "/queue/orders", "content-length": "3", "persistent": "true", "priority": "0",
		"expires": "1700000000123", "JMSXGroupID": "g", "JMSXGroupSeq": "-1", "correlation-id": "c",
		"reply-to": "/topic/replies", "_AMQ_DUPL_ID": "d", "transaction": "tx-1", "app": "v\nw",
	}
	for k, v := range want {
		if got := f.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if f.Header.Len() != len(want) {
		t.Errorf("%d headers, want %d", f.Header.Len(), len(want))
	}
	plain := sendFrame(&session.Outgoing{Destination: session.Destination{Name: "q"}, Priority: -1})
	for _, k := range []string{"persistent", "priority", "expires", "JMSXGroupID", "JMSXGroupSeq", "reply-to"} {
		if _, ok := plain.Header.Contains(k); ok {
			t.Errorf("unset option wrote %s", k)
		}
	}
	if err := checkHeaders(map[string]string{"receipt": "x"}); err == nil {
		t.Error("reserved header accepted")
	}
}

func TestSubscribeFrame(t *testing.T) {
	f := subscribeFrame(session.SubscribeSpec{
		ID: "s1", Destination: session.Destination{Kind: session.Topic, Name: "t"}, Ack: session.AckIndividual,
		Prefetch: 5, Selector: "a = 1", Exclusive: true, Priority: 3, Durable: "d",
	})
	want := map[string]string{
		"id": "s1", "destination": "/topic/t", "ack": "client-individual", "activemq.prefetchSize": "5",
		"selector": "a = 1", "activemq.exclusive": "true", "activemq.priority": "3", "activemq.subscriptionName": "d",
	}
	for k, v := range want {
		if got := f.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got := subscribeFrame(session.SubscribeSpec{Ack: session.AckClient, Priority: -1}).Header.Get("ack"); got != "client" {
		t.Errorf("client ack %q", got)
	}
	extra := subscribeFrame(session.SubscribeSpec{ID: "s2", Priority: -1,
		Headers: map[string]string{"activemq.retroactive": "true", "activemq.noLocal": "true"}})
	if extra.Header.Get("activemq.retroactive") != "true" || extra.Header.Get("activemq.noLocal") != "true" {
		t.Errorf("extra headers missing: %v", extra.Header)
	}
	for _, k := range []string{"id", "destination", "ack", "receipt", "selector", "activemq.prefetchSize", "activemq.priority", "activemq.exclusive", "activemq.subscriptionName", ""} {
		if err := checkSubscribeHeaders(map[string]string{k: "x"}); err == nil {
			t.Errorf("subscription header %q accepted", k)
		}
	}
	if err := checkSubscribeHeaders(map[string]string{"activemq.retroactive": "true"}); err != nil {
		t.Errorf("activemq.retroactive refused: %v", err)
	}
}

func TestToDelivery(t *testing.T) {
	f := frame.New(frame.MESSAGE,
		"subscription", "s1", "message-id", "ID:1", "destination", "/topic/t", "ack", "A1",
		"redelivered", "true", "persistent", "true", "priority", "6", "expires", "1700000000000",
		"JMSXGroupID", "g", "JMSXGroupSeq", "2", "JMSXGroupFirstForConsumer", "true",
		"JMSXDeliveryCount", "3", "correlation-id", "c", "reply-to", "/queue/r", "_AMQ_DUPL_ID", "d",
		"color", "red", "color", "blue", "priority", "1")
	f.Body = []byte("body")
	d := toDelivery(f, "1.2")
	if d.SubscriptionID != "s1" || d.MessageID != "ID:1" || d.Destination.String() != "topic://t" ||
		!d.Redelivered || !d.Persistent || d.Priority != 6 || d.Expires.UnixMilli() != 1_700_000_000_000 ||
		d.GroupID != "g" || d.GroupSeq != 2 || !d.FirstForConsumer || d.DeliveryCount != 3 ||
		d.CorrelationID != "c" || d.ReplyTo.String() != "queue://r" || d.DuplicateID != "d" || string(d.Body) != "body" {
		t.Errorf("decoded %+v", d)
	}
	if v, _ := d.Headers.Get("color"); v != "red" {
		t.Errorf("repeated header: %q, want the first", v)
	}
	if d.Headers.Map()["priority"] != "6" {
		t.Errorf("map keeps the first priority: %v", d.Headers.Map())
	}
	if tok := d.Token.(ackToken); tok.ack != "A1" {
		t.Errorf("1.2 ack token %q", tok.ack)
	}
	if tok := toDelivery(f, "1.1").Token.(ackToken); tok.ack != "ID:1" {
		t.Errorf("1.1 ack token %q", tok.ack)
	}
}

func TestNegotiateHeartBeats(t *testing.T) {
	cfg := session.Config{HeartBeatSend: 10 * time.Second, HeartBeatReceive: 5 * time.Second}
	tests := []struct {
		header       string
		send, expect time.Duration
	}{
		{"", 0, 0},
		{"0,0", 0, 0},
		{"20000,1000", 10 * time.Second, 20 * time.Second},
		{"1000,30000", 30 * time.Second, 5 * time.Second},
		{"0,1000", 10 * time.Second, 0},
	}
	for _, tc := range tests {
		send, expect, err := negotiateHeartBeats(cfg, tc.header)
		if err != nil || send != tc.send || expect != tc.expect {
			t.Errorf("%q: send %v expect %v err %v; want %v %v", tc.header, send, expect, err, tc.send, tc.expect)
		}
	}
	if _, _, err := negotiateHeartBeats(cfg, "x"); err == nil {
		t.Error("bad header accepted")
	}
	if s, e, _ := negotiateHeartBeats(session.Config{}, "1000,1000"); s != 0 || e != 0 {
		t.Error("heart-beats on although we offered none")
	}
}
