package stomp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tethermq/tether/failover/session"
)

// Schemes are the URI schemes this adapter serves. tcp:// and ssl:// are
// STOMP too: tether's broker speaks STOMP 1.2 on ActiveMQ's native port, so
// configurations written for ActiveMQ work unchanged.
var Schemes = []string{"tcp", "ssl", "stomp", "stomp+ssl"}

// defaultPorts are ActiveMQ's: native 61616 (ssl 61617), STOMP 61613
// (stomp+ssl 61612).
var defaultPorts = map[string]string{
	"tcp":       "61616",
	"ssl":       "61617",
	"stomp":     "61613",
	"stomp+ssl": "61612",
}

func secure(scheme string) bool { return scheme == "ssl" || scheme == "stomp+ssl" }

// Dialer opens STOMP sessions. The zero value is ready to use.
type Dialer struct{}

// brokerOptions are the component URI options this adapter takes.
type brokerOptions struct {
	vhost         string        // host: the CONNECT host header (default: the URI's host)
	keepAlive     bool          // keepAlive: TCP keep-alive probes (default true)
	noDelay       bool          // tcpNoDelay (default true)
	heartBeat     *[2]int64     // heartBeat=send,receive in ms, overrides the Conn's
	tcpConnectMax time.Duration // connectionTimeout: TCP connect only, ms (0: connectTimeout alone)
}

// Check validates a component URI: scheme, host, port and options.
func (Dialer) Check(u *url.URL) error {
	_, _, err := parseBroker(u)
	return err
}

func parseBroker(u *url.URL) (addr string, o brokerOptions, err error) {
	if addr, err = session.ParseAddress("stomp", u, defaultPorts); err != nil {
		return "", o, err
	}
	o = brokerOptions{keepAlive: true, noDelay: true}
	if err = session.ParseOptions("stomp", u, o.set); err != nil {
		return "", o, err
	}
	return addr, o, nil
}

func (o *brokerOptions) set(name, v string) error {
	var err error
	switch name {
	case "host":
		o.vhost = v
	case "keepAlive":
		o.keepAlive, err = strconv.ParseBool(v)
	case "tcpNoDelay":
		o.noDelay, err = strconv.ParseBool(v)
	case "connectionTimeout":
		var ms int64
		ms, err = strconv.ParseInt(v, 10, 64)
		o.tcpConnectMax = time.Duration(ms) * time.Millisecond
	case "heartBeat":
		o.heartBeat, err = parsePair(v)
	case "wireFormat.maxInactivityDuration":
		// ActiveMQ's inactivity monitor, read as a heart-beat both ways.
		var ms int64
		if ms, err = strconv.ParseInt(v, 10, 64); err == nil && ms >= 0 {
			o.heartBeat = &[2]int64{ms, ms}
		}
	default:
		return fmt.Errorf("unknown option (stomp takes host, keepAlive, tcpNoDelay, connectionTimeout, heartBeat, wireFormat.maxInactivityDuration)")
	}
	if err != nil {
		return fmt.Errorf("bad value %q: %w", v, err)
	}
	return nil
}

func parsePair(v string) (*[2]int64, error) {
	a, b, ok := strings.Cut(v, ",")
	if !ok {
		return nil, fmt.Errorf("want send,receive in ms")
	}
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || x < 0 || y < 0 {
		return nil, fmt.Errorf("want send,receive in ms")
	}
	return &[2]int64{x, y}, nil
}

// Dial connects, completes the STOMP handshake before ctx ends, and starts
// the session's reader and heart-beat goroutines.
func (Dialer) Dial(ctx context.Context, target session.Target) (session.Session, error) {
	addr, o, err := parseBroker(target.URI)
	if err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config
	if secure(target.URI.Scheme) {
		tlsCfg = session.TLSConfig(target.Config.TLS, target.URI.Hostname())
	}
	nc, err := session.DialTCP(ctx, addr, session.TCPOptions{
		ConnectTimeout: o.tcpConnectMax, KeepAlive: o.keepAlive, NoDelay: o.noDelay, TLS: tlsCfg})
	if err != nil {
		return nil, err
	}
	cfg := target.Config
	if o.heartBeat != nil {
		cfg.HeartBeatSend = time.Duration(o.heartBeat[0]) * time.Millisecond
		cfg.HeartBeatReceive = time.Duration(o.heartBeat[1]) * time.Millisecond
	}
	vhost := o.vhost
	if vhost == "" {
		vhost = target.URI.Hostname()
	}
	s, err := handshake(ctx, nc, cfg, vhost)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return s, nil
}
