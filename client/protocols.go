package client

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/tethermq/tether/client/amqp"
	"github.com/tethermq/tether/client/mqtt"
	"github.com/tethermq/tether/client/stomp"
	"github.com/tethermq/tether/failover/session"
)

// ErrProtocolNotBuilt is matched by the error Dial returns for a scheme whose
// protocol adapter does not exist yet (amqp, mqtt).
var ErrProtocolNotBuilt = errors.New("protocol adapter not built yet")

// protocol is one adapter and the schemes it serves.
type protocol struct {
	name   string
	dialer session.Dialer // nil: announced, not built yet
}

// protocols maps each URI scheme to its adapter. An adapter plugs in by
// filling its entry here: an import and a line, no registration side effect
// and no blank import.
var protocols = map[string]protocol{
	"tcp":       {"stomp", stomp.Dialer{}},
	"ssl":       {"stomp", stomp.Dialer{}},
	"stomp":     {"stomp", stomp.Dialer{}},
	"stomp+ssl": {"stomp", stomp.Dialer{}},
	"amqp":      {"amqp", amqp.Dialer{}},
	"amqps":     {"amqp", amqp.Dialer{}},
	"mqtt":      {"mqtt", mqtt.Dialer{}},
	"mqtt+ssl":  {"mqtt", mqtt.Dialer{}},
}

// dialerFor picks the adapter for a broker list; all brokers of one URI must
// speak the same protocol.
func dialerFor(brokers []*url.URL, overrides map[string]session.Dialer) (session.Dialer, error) {
	var (
		chosen session.Dialer
		name   string
	)
	for _, u := range brokers {
		d, n, err := lookup(u.Scheme, overrides)
		if err != nil {
			return nil, err
		}
		if chosen != nil && n != name {
			return nil, fmt.Errorf("tether: one URI mixes protocols %s and %s; use one protocol per connection", name, n)
		}
		chosen, name = d, n
	}
	return chosen, nil
}

func lookup(scheme string, overrides map[string]session.Dialer) (session.Dialer, string, error) {
	if d, ok := overrides[scheme]; ok {
		return d, "custom:" + scheme, nil
	}
	p, ok := protocols[scheme]
	if !ok {
		return nil, "", fmt.Errorf("tether: unknown scheme %q (want tcp, ssl, stomp, stomp+ssl, amqp, amqps, mqtt or mqtt+ssl)", scheme)
	}
	if p.dialer == nil {
		return nil, "", fmt.Errorf("tether: scheme %q: %s: %w", scheme, p.name, ErrProtocolNotBuilt)
	}
	return p.dialer, p.name, nil
}
