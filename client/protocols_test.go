package client

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/tethermq/tether/client/stomp"
	"github.com/tethermq/tether/failover/session"
)

func urls(t *testing.T, raw ...string) []*url.URL {
	t.Helper()
	var out []*url.URL
	for _, r := range raw {
		u, err := url.Parse(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func TestSchemeTable(t *testing.T) {
	for scheme, p := range protocols {
		d, err := dialerFor(urls(t, scheme+"://h:1"), nil)
		switch {
		case p.dialer == nil && !errors.Is(err, ErrProtocolNotBuilt):
			t.Errorf("%s: %v, want ErrProtocolNotBuilt", scheme, err)
		case p.dialer != nil && (err != nil || d == nil):
			t.Errorf("%s: %v", scheme, err)
		}
	}
	for _, s := range []string{"tcp", "ssl", "stomp", "stomp+ssl"} {
		if protocols[s].name != "stomp" {
			t.Errorf("%s is not STOMP", s)
		}
	}
}

func TestNotBuiltYet(t *testing.T) {
	saved := protocols["mqtt"]
	protocols["mqtt"] = protocol{"mqtt", nil}
	defer func() { protocols["mqtt"] = saved }()
	_, err := dialerFor(urls(t, "mqtt://h:1883"), nil)
	if !errors.Is(err, ErrProtocolNotBuilt) || !strings.Contains(err.Error(), "mqtt") {
		t.Errorf("err = %v", err)
	}
}

func TestOneProtocolPerURI(t *testing.T) {
	_, err := dialerFor(urls(t, "tcp://a:1", "custom://b:2"), map[string]session.Dialer{"custom": stomp.Dialer{}})
	if err == nil || !strings.Contains(err.Error(), "mixes protocols") {
		t.Errorf("err = %v", err)
	}
	if _, err := dialerFor(urls(t, "tcp://a:1", "stomp://b:2"), nil); err != nil {
		t.Errorf("tcp and stomp are one protocol: %v", err)
	}
	if _, err := dialerFor(urls(t, "gopher://a:1"), nil); err == nil || !strings.Contains(err.Error(), "unknown scheme") {
		t.Errorf("err = %v", err)
	}
}
