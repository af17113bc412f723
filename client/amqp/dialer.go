package amqp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/tethermq/tether/failover/session"
	"github.com/tethermq/tether/internal/wirebuf"
)

// Schemes are the URI schemes this adapter serves.
var Schemes = []string{"amqp", "amqps"}

// defaultPorts are the IANA AMQP ports, which ActiveMQ uses too.
var defaultPorts = map[string]string{"amqp": "5672", "amqps": "5671"}

func secure(scheme string) bool { return scheme == "amqps" }

// Dialer opens AMQP sessions. The zero value is ready to use.
type Dialer struct{}

// brokerOptions are the component URI options this adapter takes. The
// names are Qpid JMS's, the AMQP client ActiveMQ documents.
type brokerOptions struct {
	vhost         string         // amqp.vhost: the open frame's hostname (default: the URI's host)
	idleTimeout   *time.Duration // amqp.idleTimeout (ms): overrides the Conn's heart-beat; 0 disables
	maxFrameSize  uint32         // amqp.maxFrameSize: the largest frame we accept (go-amqp's 64 KiB when 0)
	noDelay       bool           // transport.tcpNoDelay (default true)
	keepAlive     bool           // transport.tcpKeepAlive (default true)
	tcpConnectMax time.Duration  // transport.connectTimeout (ms): TCP connect only
}

// Check validates a component URI: scheme, host, port and options.
func (Dialer) Check(u *url.URL) error {
	_, _, err := parseBroker(u)
	return err
}

func parseBroker(u *url.URL) (addr string, o brokerOptions, err error) {
	if addr, err = session.ParseAddress("amqp", u, defaultPorts); err != nil {
		return "", o, err
	}
	o = brokerOptions{keepAlive: true, noDelay: true}
	if err = session.ParseOptions("amqp", u, o.set); err != nil {
		return "", o, err
	}
	return addr, o, nil
}

func (o *brokerOptions) set(name, v string) error {
	var err error
	switch name {
	case "amqp.vhost":
		o.vhost = v
	case "amqp.idleTimeout":
		var ms int64
		if ms, err = strconv.ParseInt(v, 10, 64); err == nil && ms < 0 {
			err = fmt.Errorf("negative")
		}
		d := time.Duration(ms) * time.Millisecond
		o.idleTimeout = &d
	case "amqp.maxFrameSize":
		var n uint64
		if n, err = strconv.ParseUint(v, 10, 32); err == nil && n < 512 {
			err = fmt.Errorf("below AMQP's minimum of 512")
		}
		o.maxFrameSize = uint32(n)
	case "transport.tcpNoDelay":
		o.noDelay, err = strconv.ParseBool(v)
	case "transport.tcpKeepAlive":
		o.keepAlive, err = strconv.ParseBool(v)
	case "transport.connectTimeout":
		var ms int64
		ms, err = strconv.ParseInt(v, 10, 64)
		o.tcpConnectMax = time.Duration(ms) * time.Millisecond
	default:
		return fmt.Errorf("unknown option (amqp takes amqp.vhost, amqp.idleTimeout, amqp.maxFrameSize, transport.tcpNoDelay, transport.tcpKeepAlive, transport.connectTimeout)")
	}
	if err != nil {
		return fmt.Errorf("bad value %q: %w", v, err)
	}
	return nil
}

// Dial connects, completes SASL, Open and Begin before ctx ends, and starts
// the session's watcher goroutine.
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
		return nil, fmt.Errorf("amqp: %w", err)
	}
	// go-amqp writes one frame per Write: coalesce them, so that many
	// transfers in flight cost one syscall per batch.
	nc = wirebuf.New(nc)
	vhost := o.vhost
	if vhost == "" {
		vhost = target.URI.Hostname()
	}
	s, err := handshake(ctx, nc, target.Config, connOptions(target.Config, o, vhost))
	if err != nil {
		return nil, err
	}
	s.scheme = target.URI.Scheme
	return s, nil
}
