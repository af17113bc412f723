package session

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The parts of connecting that every TCP-based adapter shares: reading a
// component URI's address and options, and opening the TCP (and TLS)
// connection before the protocol handshake.

// ParseAddress checks u's scheme against defaultPorts (scheme -> port) and
// its host and port, and returns host:port, with the scheme's default port
// when u names none. proto prefixes the errors ("stomp", "amqp", "mqtt").
// Credentials in the URI are refused: they would end up in logs.
func ParseAddress(proto string, u *url.URL, defaultPorts map[string]string) (string, error) {
	port, ok := defaultPorts[u.Scheme]
	if !ok {
		schemes := make([]string, 0, len(defaultPorts))
		for s := range defaultPorts {
			schemes = append(schemes, s)
		}
		slices.Sort(schemes)
		return "", fmt.Errorf("%s: scheme %q is not one of %s", proto, u.Scheme, strings.Join(schemes, ", "))
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("%s: %s: no host", proto, u.Redacted())
	}
	if u.User != nil {
		return "", fmt.Errorf("%s: %s: credentials in the URI are not used; pass them with client.WithCredentials", proto, u.Redacted())
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%s: %s: bad port %q", proto, u.Redacted(), p)
		}
		port = p
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// ParseOptions hands each query option of u to set (the last value wins),
// naming the option in the error set returns.
func ParseOptions(proto string, u *url.URL, set func(name, value string) error) error {
	for name, values := range u.Query() {
		if err := set(name, values[len(values)-1]); err != nil {
			return fmt.Errorf("%s: %s: option %q: %w", proto, u.Redacted(), name, err)
		}
	}
	return nil
}

// TCPOptions say how DialTCP opens a connection.
type TCPOptions struct {
	ConnectTimeout time.Duration // 0: only ctx bounds the connect
	KeepAlive      bool          // TCP keep-alive at Go's default interval
	NoDelay        bool
	// TLS, when set, wraps the connection in TLS (ServerName defaults to
	// the URI's host, see TLSConfig).
	TLS *tls.Config
}

// DialTCP opens a TCP connection to addr and completes the TLS handshake
// if o.TLS is set, all before ctx ends.
func DialTCP(ctx context.Context, addr string, o TCPOptions) (net.Conn, error) {
	nd := net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: -1}
	if o.KeepAlive {
		nd.KeepAlive = 0 // Go's default interval
	}
	nc, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(o.NoDelay)
	}
	if o.TLS != nil {
		tlsConn := tls.Client(nc, o.TLS)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		nc = tlsConn
	}
	return nc, nil
}

// TLSConfig is base (or a TLS 1.2+ default) with ServerName set to host
// unless base names one.
func TLSConfig(base *tls.Config, host string) *tls.Config {
	var c *tls.Config
	if base != nil {
		c = base.Clone()
	} else {
		c = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	return c
}
