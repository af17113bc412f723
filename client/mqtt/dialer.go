package mqtt

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/tethermq/tether/failover/session"
	"github.com/tethermq/tether/internal/wirebuf"
)

// Schemes are the URI schemes this adapter serves.
var Schemes = []string{"mqtt", "mqtt+ssl"}

// defaultPorts are IANA's MQTT ports, which ActiveMQ and mosquitto use.
var defaultPorts = map[string]string{"mqtt": "1883", "mqtt+ssl": "8883"}

func secure(scheme string) bool { return scheme == "mqtt+ssl" }

// Dialer opens MQTT sessions. The zero value is ready to use.
type Dialer struct{}

// brokerOptions are the component URI options this adapter takes.
type brokerOptions struct {
	// cleanSession: nil means persistent (false) when the Conn has a client
	// id, clean otherwise.
	cleanSession  *bool
	keepAlive     *time.Duration // keepAlive (s): overrides the Conn's heart-beat; 0 disables
	noDelay       bool           // tcpNoDelay (default true)
	tcpConnectMax time.Duration  // connectionTimeout (ms): TCP connect only
}

// Check validates a component URI: scheme, host, port and options.
func (Dialer) Check(u *url.URL) error {
	_, _, err := parseBroker(u)
	return err
}

func parseBroker(u *url.URL) (addr string, o brokerOptions, err error) {
	if addr, err = session.ParseAddress("mqtt", u, defaultPorts); err != nil {
		return "", o, err
	}
	o = brokerOptions{noDelay: true}
	if err = session.ParseOptions("mqtt", u, o.set); err != nil {
		return "", o, err
	}
	return addr, o, nil
}

func (o *brokerOptions) set(name, v string) error {
	var err error
	switch name {
	case "cleanSession":
		var b bool
		b, err = strconv.ParseBool(v)
		o.cleanSession = &b
	case "keepAlive":
		var s int64
		if s, err = strconv.ParseInt(v, 10, 64); err == nil && (s < 0 || s > 65535) {
			err = fmt.Errorf("want 0-65535 seconds")
		}
		d := time.Duration(s) * time.Second
		o.keepAlive = &d
	case "tcpNoDelay":
		o.noDelay, err = strconv.ParseBool(v)
	case "connectionTimeout":
		var ms int64
		ms, err = strconv.ParseInt(v, 10, 64)
		o.tcpConnectMax = time.Duration(ms) * time.Millisecond
	default:
		return fmt.Errorf("unknown option (mqtt takes cleanSession, keepAlive, tcpNoDelay, connectionTimeout)")
	}
	if err != nil {
		return fmt.Errorf("bad value %q: %w", v, err)
	}
	return nil
}

// Dial connects and completes CONNECT/CONNACK before ctx ends.
func (Dialer) Dial(ctx context.Context, target session.Target) (session.Session, error) {
	addr, o, err := parseBroker(target.URI)
	if err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config
	if secure(target.URI.Scheme) {
		tlsCfg = session.TLSConfig(target.Config.TLS, target.URI.Hostname())
	}
	open := func(ctx context.Context) (net.Conn, error) {
		nc, err := session.DialTCP(ctx, addr, session.TCPOptions{
			ConnectTimeout: o.tcpConnectMax, KeepAlive: true, NoDelay: o.noDelay, TLS: tlsCfg})
		if err != nil {
			return nil, err
		}
		// paho writes one packet per Write: coalesce them, so that many
		// publishes in flight cost one syscall per batch.
		return wirebuf.New(nc), nil
	}
	return connect(ctx, open, target.Config, o)
}
