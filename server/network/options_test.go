package network

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tethermq/tether/server/internal/broker"
	"gopkg.in/yaml.v3"
)

func TestYAMLDefaultsAndUnknownOptions(t *testing.T) {
	var list []Options
	err := yaml.Unmarshal([]byte(`
- uri: static:(tcp://b:61616)
- name: toB
  uri: masterslave:(tcp://b1:61616,tcp://b2:61616)?initialReconnectDelay=200
  duplex: true
  networkTTL: 3
  messageTTL: 2
  conduitSubscriptions: false
  decreaseNetworkConsumerPriority: false
  staticallyIncludedDestinations: [queue://audit, topic://prices.>]
  excludedDestinations: [queue://private.>]
  prefetchSize: 10
`), &list)
	if err != nil {
		t.Fatal(err)
	}
	d := list[0]
	if d.Name != "NC" || d.NetworkTTL != 1 || !d.ConduitSubscriptions || !d.DecreaseNetworkConsumerPriority || d.PrefetchSize != 1000 || d.Duplex {
		t.Errorf("defaults not applied: %+v", d)
	}
	o := list[1]
	if o.messageTTL() != 2 || o.consumerTTL() != 3 {
		t.Errorf("ttl: message %d consumer %d, want 2 and 3 (networkTTL sets both, messageTTL wins)", o.messageTTL(), o.consumerTTL())
	}
	if o.ConduitSubscriptions || o.DecreaseNetworkConsumerPriority || !o.Duplex || o.PrefetchSize != 10 {
		t.Errorf("values not read: %+v", o)
	}
	for _, x := range list {
		if err := x.Validate(); err != nil {
			t.Errorf("validate %s: %v", x.Name, err)
		}
	}

	err = yaml.Unmarshal([]byte("- uri: static:(tcp://b:1)\n  networkttl: 2\n"), &list)
	var unknown *UnknownOptionError
	if !errors.As(err, &unknown) || unknown.Option != "networkttl" || !strings.Contains(err.Error(), `did you mean "networkTTL"`) {
		t.Errorf("unknown option: got %v", err)
	}
}

func TestValidateNamesTheBadOption(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.URI = "" }, "uri"},
		{func(o *Options) { o.URI = "static:(tcp://b:1)?maxReconectDelay=5" }, "maxReconectDelay"},
		{func(o *Options) { o.URI = "masterslave:(tcp://b:1)" }, "at least 2"},
		{func(o *Options) { o.URI = "multicast://default?group=x&ttl=3" }, "ttl"},
		{func(o *Options) { o.URI = "fanout:(tcp://b:1)" }, "unknown scheme"},
		{func(o *Options) { o.NetworkTTL = 0 }, "networkTTL"},
		{func(o *Options) { o.PrefetchSize = 0 }, "prefetchSize"},
		{func(o *Options) { o.Name = "a b" }, "name"},
		{func(o *Options) { o.StaticallyIncludedDestinations = []string{"queue://orders.>"} }, "wildcards are for topics"},
		{func(o *Options) { o.ExcludedDestinations = []string{"queue://a.>.b"} }, "last segment"},
	} {
		o := Defaults()
		o.URI = "static:(tcp://b:61616)"
		tc.edit(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error naming %q, got %v", tc.want, err)
		}
	}
}

func TestParseFlag(t *testing.T) {
	o, err := ParseFlag("masterslave:(tcp://b1:61616?tcpNoDelay=false,tcp://b2:61616)?duplex=true&name=toB&initialReconnectDelay=100&excludedDestinations=queue://x,queue://y")
	if err != nil {
		t.Fatal(err)
	}
	if !o.Duplex || o.Name != "toB" || len(o.ExcludedDestinations) != 2 {
		t.Errorf("attributes: %+v", o)
	}
	if o.URI != "masterslave:(tcp://b1:61616?tcpNoDelay=false,tcp://b2:61616)?initialReconnectDelay=100" {
		t.Errorf("uri kept %q", o.URI)
	}
	tgt, err := parseTarget(o.URI)
	if err != nil {
		t.Fatal(err)
	}
	if tgt.kind != kindMasterSlave || len(tgt.brokers) != 2 || tgt.retry.InitialReconnectDelay != 100*time.Millisecond {
		t.Errorf("target: %+v", tgt)
	}
	// The list in order, master first; the options travel as typed client
	// options (reconnectOptions.clientOptions).
	if got := dialURI(tgt.brokers); got != "failover:(tcp://b1:61616?tcpNoDelay=false,tcp://b2:61616)" {
		t.Errorf("dial URI %q", got)
	}
	mixed, err := parseTarget("masterslave:(stomp://b1,tcp://b2:61617)")
	if err != nil {
		t.Fatal(err)
	}
	if got := dialURI(mixed.brokers); got != "failover:(stomp://b1,tcp://b2:61617)" {
		t.Errorf("mixed schemes: dial URI %q", got)
	}
	if _, err := ParseFlag("static:(tcp://b:1)?duplex=maybe"); err == nil || !strings.Contains(err.Error(), "duplex") {
		t.Errorf("bad bool: %v", err)
	}
	if _, err := ParseFlag("static:(tcp://b:1)?bogus=1"); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown option: %v", err)
	}
}

func TestMulticastURI(t *testing.T) {
	mc, retry, err := parseMulticast("multicast://default?group=prod&timeToLive=0&keepAliveInterval=100&initialReconnectDelay=250")
	if err != nil {
		t.Fatal(err)
	}
	if mc.addr.String() != "239.255.2.3:6155" || mc.group != "prod" || mc.ttl != 0 || mc.keepAlive != 100*time.Millisecond {
		t.Errorf("config: %+v", mc)
	}
	if retry.InitialReconnectDelay != 250*time.Millisecond || retry.MaxReconnectDelay != 30*time.Second {
		t.Errorf("retry: %+v", retry)
	}
	if _, _, err := parseMulticast("multicast://10.0.0.1:6155"); err == nil {
		t.Error("a unicast address was accepted")
	}
	if _, _, err := parseMulticast("multicast://default?networkInterface=no-such-if0"); err == nil {
		t.Error("a missing interface was accepted")
	}
}

func TestAnnouncementFormat(t *testing.T) {
	a := announcement{group: "default", broker: "amq1", service: "tcp://host:61616", alive: true}
	if got := string(a.encode()); got != "default.ActiveMQ-4.alive.%amq1%tcp://host:61616" {
		t.Errorf("encoded %q (ActiveMQ's MulticastDiscoveryAgent format)", got)
	}
	back, err := decodeAnnouncement([]byte("g.x.ActiveMQ-4.dead.%b2%stomp://h:1"))
	if err != nil || back.alive || back.group != "g.x" || back.broker != "b2" || back.service != "stomp://h:1" {
		t.Errorf("decoded %+v, %v", back, err)
	}
	for _, bad := range []string{"", "hello", "g.ActiveMQ-4.alive.b%tcp://h:1", "g.ActiveMQ-4.zombie.%b%tcp://h:1", "g.ActiveMQ-4.alive.%%tcp://h:1"} {
		if _, err := decodeAnnouncement([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestPatterns(t *testing.T) {
	q := func(n string) broker.Destination { return broker.Destination{Kind: broker.Queue, Name: n} }
	tp := func(n string) broker.Destination { return broker.Destination{Kind: broker.Topic, Name: n} }
	f := destFilter{}
	// '>' matches the rest, nothing included, as the broker's topic wildcards.
	f.include, _ = parsePatterns([]string{"queue://orders.>", "topic://prices.*"})
	f.exclude, _ = parsePatterns([]string{"queue://orders.secret"})
	for d, want := range map[broker.Destination]bool{
		q("orders.eu"): true, q("orders.eu.fr"): true, q("orders"): true, q("ordersX"): false, q("orders.secret"): false,
		tp("prices.eu"): true, tp("prices.eu.fr"): false, tp("orders.eu"): false,
		q("ActiveMQ.Network.Outbox.NC.x"): false, tp("ActiveMQ.Advisory.Consumer.Queue.x"): false,
	} {
		if got := f.allows(d); got != want {
			t.Errorf("allows(%v) = %v, want %v", d, got, want)
		}
	}
	if !(destFilter{}).allows(q("anything")) {
		t.Error("an empty include list must allow everything")
	}
}

func TestAdvisoryParsing(t *testing.T) {
	hdr := map[string]string{"advisoryType": "add", "consumerId": "7", "consumerPriority": "3", "networkBrokerPath": "A,C"}
	ev, ok := parseAdvisory(broker.AdvisoryConsumerPfx+"Queue.orders.eu", func(n string) string { return hdr[n] })
	if !ok || !ev.add || ev.dest != (broker.Destination{Kind: broker.Queue, Name: "orders.eu"}) || ev.priority != 3 || strings.Join(ev.path, ",") != "A,C" {
		t.Errorf("parsed %+v ok=%v", ev, ok)
	}
	hdr["networkBrokerPath"] = ""
	if ev, _ := parseAdvisory(broker.AdvisoryConsumerPfx+"Topic.x", func(n string) string { return hdr[n] }); len(ev.path) != 0 || ev.dest.Kind != broker.Topic {
		t.Errorf("an application consumer's advisory: %+v", ev)
	}
	if _, ok := parseAdvisory("ActiveMQ.Advisory.Producer.Queue.x", func(n string) string { return hdr[n] }); ok {
		t.Error("a non-consumer advisory was accepted")
	}
}

func TestBackoff(t *testing.T) {
	spec := Defaults()
	spec.URI = "static:(tcp://b:1)?initialReconnectDelay=100&maxReconnectDelay=500&maxReconnectAttempts=5"
	tgt, err := parseTarget(spec.URI)
	if err != nil {
		t.Fatal(err)
	}
	bo := newBackoff(tgt.retry)
	var got []time.Duration
	for {
		d, again := bo.failed(0)
		if !again {
			break
		}
		got = append(got, d)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 500 * time.Millisecond}
	if len(got) != len(want) {
		t.Fatalf("delays %v, want %v then give up", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	// A bridge that stayed up for minConnectTime resets the delay.
	bo = newBackoff(tgt.retry)
	bo.failed(0)
	bo.failed(0)
	if d, _ := bo.failed(10 * time.Second); d != 100*time.Millisecond {
		t.Errorf("after a long-lived bridge the delay is %v, want the initial 100ms", d)
	}
}

func TestStaticOptions(t *testing.T) {
	tgt, err := parseTarget("static:(tcp://a:1,tcp://b:2)?initialReconnectDelay=50&backOffMultiplier=3&maxReconnectAttempts=4&minConnectTime=100&useExponentialBackOff=false&maxReconnectDelay=900")
	if err != nil {
		t.Fatal(err)
	}
	want := reconnectOptions{
		InitialReconnectDelay: 50 * time.Millisecond, MaxReconnectDelay: 900 * time.Millisecond,
		BackOffMultiplier: 3, MaxReconnectAttempts: 4, MinConnectTime: 100 * time.Millisecond,
	}
	if tgt.retry != want || tgt.kind != kindStatic || len(tgt.brokers) != 2 {
		t.Errorf("got %+v want %+v", tgt, want)
	}
	d, err := parseTarget("static:(tcp://a:1)")
	if err != nil {
		t.Fatal(err)
	}
	if d.retry != defaultReconnectOptions() || d.retry.InitialReconnectDelay != time.Second || d.retry.MaxReconnectAttempts != 0 {
		t.Errorf("defaults %+v", d.retry)
	}
	for _, bad := range []struct{ uri, want string }{
		{"static:(tcp://a:1)?randomize=true", "randomize"},
		{"static:(tcp://a:1)?maxReconnectAttempts=-1", "maxReconnectAttempts"},
		{"static:(tcp://a:1)?minConnectTime=1&minConnectTime=2", "given twice"},
		{"static:(tcp://a:1)?initialReconnectDelay=500&maxReconnectDelay=100", "below initialReconnectDelay"},
		{"static:(a:1)", "no host"},
		{"static:(failover:(tcp://a:1))", "nested"},
		{"static:()", "no broker URIs"},
		{"masterslave:(tcp://a:1)", "at least 2"},
	} {
		if _, err := parseTarget(bad.uri); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want an error with %q", bad.uri, err, bad.want)
		}
	}
}
