package amqp

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	goamqp "github.com/Azure/go-amqp"
)

// serverListProperty is the open-frame property in which a broker lists
// the other brokers of its cluster (Artemis sends its backup there, and
// Qpid JMS reads it for failover.amqpOpenServerListAction).
const serverListProperty = "failover-server-list"

// AdvertisedURIs returns the brokers advertised in the broker's open frame,
// as URIs of this session's scheme unless an entry names its own. It
// implements session.Advertiser: with updateURIsSupported (the default) the
// failover engine adds them to its list.
func (s *Session) AdvertisedURIs() []*url.URL {
	return serverList(s.conn.Properties()[serverListProperty], s.scheme)
}

// serverList reads a failover-server-list: a list of maps with the keys
// hostname, port and (optionally) scheme. Entries it cannot read are
// skipped; a broker's advertisement is a hint, never a reason to fail.
func serverList(v any, defaultScheme string) []*url.URL {
	list, _ := v.([]any)
	var out []*url.URL
	for _, e := range list {
		host, port := entry(e, "hostname"), entry(e, "port")
		if host == "" || port == "" {
			continue
		}
		scheme := strings.ToLower(entry(e, "scheme"))
		if _, ok := defaultPorts[scheme]; !ok {
			scheme = defaultScheme
		}
		out = append(out, &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)})
	}
	return out
}

// entry returns one value of a server-list entry as a string. AMQP map keys
// arrive as strings or symbols, in a map keyed by either.
func entry(e any, key string) string {
	var v any
	switch m := e.(type) {
	case map[any]any:
		if v = m[key]; v == nil {
			v = m[goamqp.Symbol(key)]
		}
	case map[string]any:
		v = m[key]
	case map[goamqp.Symbol]any:
		v = m[goamqp.Symbol(key)]
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}
