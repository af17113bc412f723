package session

import (
	"errors"
	"testing"
)

func TestParseDestination(t *testing.T) {
	good := map[string]Destination{
		"queue://orders":   {Queue, "orders"},
		"topic://a.b":      {Topic, "a.b"},
		"plain":            {Queue, "plain"},
		"queue://x://y":    {Queue, "x://y"},
		"ActiveMQ.DLQ":     {Queue, "ActiveMQ.DLQ"},
		"topic://prices.>": {Topic, "prices.>"},
	}
	for in, want := range good {
		got, err := ParseDestination(in)
		if err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
		if back, _ := ParseDestination(got.String()); back != got {
			t.Errorf("%q does not round-trip: %q", in, got.String())
		}
	}
	for _, in := range []string{"", "queue://", "temp-queue://x"} {
		if _, err := ParseDestination(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestHeaders(t *testing.T) {
	h := Headers{"a", "1", "b", "2", "a", "3"}
	if v, ok := h.Get("a"); !ok || v != "1" {
		t.Errorf("Get(a) = %q %v, want the first value", v, ok)
	}
	if _, ok := h.Get("c"); ok {
		t.Error("Get(c) found something")
	}
	if m := h.Map(); len(m) != 2 || m["a"] != "1" || m["b"] != "2" {
		t.Errorf("Map() = %v", m)
	}
}

func TestErrors(t *testing.T) {
	var err error = &UnsupportedError{Protocol: "mqtt", Feature: "message groups"}
	if !errors.Is(err, ErrUnsupported) || err.Error() != "mqtt: message groups: not supported by this protocol" {
		t.Errorf("%v", err)
	}
	be := &BrokerError{Op: "send", Message: "no", Detail: "quota"}
	if be.Error() != "broker refused send: no (quota)" {
		t.Errorf("%v", be)
	}
}
