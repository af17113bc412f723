package network

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// targetKind is how a connector finds the brokers it bridges to.
type targetKind uint8

const (
	// kindStatic: one bridge per listed broker, each reconnecting on its own.
	kindStatic targetKind = iota
	// kindMasterSlave: one bridge over failover:(list), re-established by
	// the connector (ActiveMQ's MasterSlaveDiscoveryAgent).
	kindMasterSlave
	// kindMulticast: one bridge per broker announced on the multicast group.
	kindMulticast
)

// target is a parsed network connector URI.
type target struct {
	kind    targetKind
	brokers []*url.URL // static and masterslave
	retry   reconnectOptions
	mc      multicastConfig // multicast
}

// parseTarget reads static:(...), masterslave:(...) or multicast://...
// Unknown options are errors naming them.
func parseTarget(raw string) (*target, error) {
	raw = strings.TrimSpace(raw)
	scheme, rest, _ := strings.Cut(raw, ":")
	scheme = strings.ToLower(scheme)
	switch scheme {
	case "static", "masterslave":
		brokers, retry, err := parseList(rest)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", raw, err)
		}
		if scheme == "static" {
			return &target{kind: kindStatic, brokers: brokers, retry: retry}, nil
		}
		// The same list and reconnect options as static:, but one bridge
		// over the whole list.
		if len(brokers) < 2 {
			return nil, fmt.Errorf("%s: masterslave: needs at least 2 URIs (master first), got %d", raw, len(brokers))
		}
		return &target{kind: kindMasterSlave, brokers: brokers, retry: retry}, nil
	case "multicast":
		mc, retry, err := parseMulticast(raw)
		if err != nil {
			return nil, err
		}
		return &target{kind: kindMulticast, mc: mc, retry: retry}, nil
	case "":
		return nil, fmt.Errorf("missing (want static:(...), masterslave:(...) or multicast://default)")
	}
	return nil, fmt.Errorf("%q: unknown scheme %q (want static:, masterslave: or multicast:)", raw, scheme)
}

// linkKey names a static bridge after the broker it dials, in a form that
// fits queue and client id names.
func linkKey(u *url.URL) string {
	return sanitize(u.Host)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

// backoff is the connector's reconnect delay, ActiveMQ's static: rules:
// initialReconnectDelay, multiplied by backOffMultiplier after each failure
// when useExponentialBackOff, capped at maxReconnectDelay, and back to the
// start once a bridge stayed up for minConnectTime.
type backoff struct {
	o     reconnectOptions
	next  time.Duration
	fails int
}

func newBackoff(o reconnectOptions) *backoff {
	return &backoff{o: o, next: o.InitialReconnectDelay}
}

// failed records a bridge that ended (or never started) after being up for
// upFor, and returns how long to wait, or false once maxReconnectAttempts
// consecutive attempts failed.
func (b *backoff) failed(upFor time.Duration) (time.Duration, bool) {
	if upFor >= b.o.MinConnectTime && upFor > 0 {
		b.next, b.fails = b.o.InitialReconnectDelay, 0
	}
	b.fails++
	if b.o.MaxReconnectAttempts > 0 && b.fails >= b.o.MaxReconnectAttempts {
		return 0, false
	}
	d := b.next
	if b.o.UseExponentialBackOff {
		b.next = min(time.Duration(float64(b.next)*b.o.BackOffMultiplier), b.o.MaxReconnectDelay)
	}
	return min(d, b.o.MaxReconnectDelay), true
}
