package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"time"
)

// tlsHandshakeTimeout bounds a client's TLS handshake: a connector's own
// read deadlines start after it, with the protocol's first frame.
const tlsHandshakeTimeout = 10 * time.Second

// tlsListener serves TLS over a TCP listener. The handshake runs on the
// connection's first Read or Write, in the connector's goroutine (Accept
// never blocks on a slow client), bounded by tlsHandshakeTimeout; a failed
// one (plain text on a TLS port, a missing or untrusted client
// certificate) is logged once and closes that connection only.
type tlsListener struct {
	net.Listener
	cfg *tls.Config
	log *slog.Logger
}

func newTLSListener(ln net.Listener, cfg *tls.Config, log *slog.Logger) net.Listener {
	return &tlsListener{Listener: ln, cfg: cfg, log: log}
}

func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tlsConn{Conn: tls.Server(c, l.cfg), log: l.log}, nil
}

type tlsConn struct {
	*tls.Conn
	log  *slog.Logger
	once sync.Once
	err  error
}

func (c *tlsConn) handshake() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), tlsHandshakeTimeout)
		defer cancel()
		if c.err = c.Conn.HandshakeContext(ctx); c.err != nil {
			c.log.Info("TLS handshake refused", "remote", c.RemoteAddr().String(), "err", c.err)
			c.Conn.Close()
		}
	})
	return c.err
}

func (c *tlsConn) Read(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *tlsConn) Write(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
