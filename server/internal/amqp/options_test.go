package amqp

import (
	"net/url"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	q := url.Values{
		"maximumConnections":              {"5"},
		"transport.maxFrameSize":          {"4096"},
		"wireFormat.maxDataLength":        {"1024"},
		"wireFormat.idleTimeout":          {"1500"},
		"transport.connectAttemptTimeout": {"2000"},
		"transport.producerCredit":        {"10"},
		"transport.prefetch":              {"7"},
	}
	o, err := ParseOptions(q)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{MaxConnections: 5, MaxFrameSize: 4096, MaxMessageSize: 1024, IdleTimeout: 1500 * time.Millisecond,
		HandshakeTimeout: 2 * time.Second, ProducerCredit: 10, Prefetch: 7}
	if o.MaxConnections != want.MaxConnections || o.MaxFrameSize != want.MaxFrameSize || o.MaxMessageSize != want.MaxMessageSize ||
		o.IdleTimeout != want.IdleTimeout || o.HandshakeTimeout != want.HandshakeTimeout ||
		o.ProducerCredit != want.ProducerCredit || o.Prefetch != want.Prefetch {
		t.Errorf("ParseOptions = %+v, want %+v", o, want)
	}
	for _, bad := range []url.Values{
		{"unknown": {"1"}},
		{"maximumConnections": {"many"}},
		{"maximumConnections": {"-1"}},
		{"transport.prefetch": {"1", "2"}},
	} {
		if _, err := ParseOptions(bad); err == nil {
			t.Errorf("ParseOptions(%v) accepted", bad)
		}
	}
	if d := (Options{MaxFrameSize: 10}).withDefaults(); d.MaxFrameSize != 512 || d.IdleTimeout != DefaultIdleTimeout {
		t.Errorf("defaults: %+v", d)
	}
}

// Prefetch fixes the consumer's prefetch whatever credit the receiver
// grants.
func TestPrefetchOption(t *testing.T) {
	e := startEnv(t, Options{Prefetch: 2}, "")
	s := e.client()
	snd := e.sender(s, "fixed", nil)
	for range 5 {
		send(t, snd, goamqpMessage("x"))
	}
	rcv := e.receiver(s, "fixed", receiverCredit(100))
	for range 2 {
		receive(t, rcv) // held, not settled
	}
	if st := e.stats("fixed"); st.InFlight != 2 || st.Pending != 3 {
		t.Errorf("prefetch 2: %+v", st)
	}
}
