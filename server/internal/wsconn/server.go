// Package wsconn carries the broker's stream protocols (STOMP, MQTT) over
// WebSocket. It accepts HTTP upgrade requests, negotiates the subprotocol
// that names the protocol, and hands each upgraded WebSocket to that
// protocol's connector as a net.Conn (Conn) through a net.Listener
// (Server.Listener), so the connectors serve WebSocket clients with the
// code that serves TCP ones.
//
// It owns the HTTP side only: the upgrade, subprotocol negotiation,
// message framing and the closing handshake. It knows nothing of the
// protocols it carries beyond their subprotocol names and whether they
// allow text messages.
//
// Invariants:
//   - A request that is not a WebSocket upgrade, or that offers only
//     subprotocols no protocol here speaks, is answered with an HTTP error
//     and never reaches a connector.
//   - Every Conn handed out is closed by its connector or, if the
//     connector's listener closed first, by the Server; every closing
//     handshake runs on a goroutine Close waits for.
package wsconn

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Protocol is one protocol the Server carries.
type Protocol struct {
	// Name identifies the protocol to Listener ("stomp", "mqtt").
	Name string
	// Subprotocols are the WebSocket subprotocol names that select it,
	// most preferred first: when a client offers several, the first one
	// listed here that the client offers is chosen.
	Subprotocols []string
	// Default takes clients that offer no subprotocol at all (at most one
	// protocol may be the default). Without one, such clients are refused.
	Default bool
	// BinaryOnly protocols get binary messages and refuse text ones
	// (MQTT-6.0.0-1); others receive text when the bytes are UTF-8.
	BinaryOnly bool
}

// Options configure a Server.
type Options struct {
	Protocols []Protocol
	// TLS, when set, makes the Server speak wss:// (TLS on the accepted
	// connections). It is cloned; only HTTP/1.1 is offered in ALPN, the
	// one WebSocket upgrades travel on.
	TLS *tls.Config
	// HandshakeTimeout bounds reading the upgrade request (default 10 s).
	HandshakeTimeout time.Duration
	// CloseGrace bounds how long Close waits for peers to answer closing
	// handshakes before it drops their TCP connections (default 2 s); a
	// dead peer would otherwise hold Close for the library's 10 s.
	CloseGrace time.Duration
	Logger     *slog.Logger
}

// Server accepts WebSocket upgrades on a listener and dispatches them to
// per-protocol listeners.
type Server struct {
	opts  Options
	log   *slog.Logger
	http  *http.Server
	lns   map[string]*listener
	offer []string // every subprotocol, for error messages

	closeWG sync.WaitGroup // closing handshakes
	// dropCtx ends when Close's grace is over: closing handshakes still
	// running then lose their TCP connection.
	dropCtx  context.Context
	dropAll  context.CancelFunc
	addrOnce sync.Once
	addr     net.Addr
	addrSet  chan struct{}
}

// New creates a Server. Nothing listens until Serve.
func New(o Options) (*Server, error) {
	if len(o.Protocols) == 0 {
		return nil, errors.New("wsconn: no protocol to serve")
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.CloseGrace <= 0 {
		o.CloseGrace = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{opts: o, log: o.Logger, lns: map[string]*listener{}, addrSet: make(chan struct{})}
	s.dropCtx, s.dropAll = context.WithCancel(context.Background())
	defaults := 0
	for i := range o.Protocols {
		p := &o.Protocols[i]
		if p.Name == "" || s.lns[p.Name] != nil {
			return nil, fmt.Errorf("wsconn: protocol name %q empty or repeated", p.Name)
		}
		if p.Default {
			defaults++
		}
		s.lns[p.Name] = &listener{srv: s, ch: make(chan *Conn), done: make(chan struct{})}
		s.offer = append(s.offer, p.Subprotocols...)
	}
	if defaults > 1 {
		return nil, errors.New("wsconn: more than one default protocol")
	}
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: o.HandshakeTimeout,
		// A client that got an HTTP error and keeps the connection open
		// idles no longer than a handshake may take.
		IdleTimeout:    o.HandshakeTimeout,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Listener yields the upgraded connections of the named protocol, for
// that protocol's connector to Serve. Closing it refuses later upgrades
// for the protocol.
func (s *Server) Listener(name string) net.Listener {
	if l := s.lns[name]; l != nil {
		return l
	}
	return nil
}

// Serve answers HTTP on ln until Close; it returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	s.addrOnce.Do(func() {
		s.addr = ln.Addr()
		close(s.addrSet)
	})
	if s.opts.TLS != nil {
		cfg := s.opts.TLS.Clone()
		cfg.NextProtos = []string{"http/1.1"}
		ln = tls.NewListener(ln, cfg)
	}
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("wsconn: serve: %w", err)
}

// Close stops accepting upgrades, closes the protocol listeners (with any
// connection not yet taken from them) and waits for the closing
// handshakes started so far, dropping the connections of peers that do
// not answer within CloseGrace. Connections already taken belong to their
// connectors: close those first.
func (s *Server) Close() error {
	err := s.http.Close()
	for _, l := range s.lns {
		l.Close()
	}
	done := make(chan struct{})
	go func() {
		s.closeWG.Wait()
		close(done)
	}()
	grace := time.NewTimer(s.opts.CloseGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		s.dropAll()
		<-done
	}
	return err
}

// closing runs c's closing handshake on a goroutine Close waits for;
// Close's grace ending drops the TCP connection under it.
func (s *Server) closing(c *Conn, code websocket.StatusCode, reason string) {
	s.closeWG.Add(1)
	go func() {
		defer s.closeWG.Done()
		stop := context.AfterFunc(s.dropCtx, func() {
			if c.raw != nil {
				c.raw.Close()
			}
		})
		defer stop()
		_ = c.ws.Close(code, reason)
	}()
}

// ServeHTTP upgrades one request and hands the WebSocket to its protocol.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		msg := "this port serves STOMP or MQTT over WebSocket only: send a WebSocket upgrade request"
		if len(s.offer) > 0 {
			msg += " with one of the subprotocols " + strings.Join(s.offer, ", ")
		}
		http.Error(w, msg, http.StatusUpgradeRequired)
		return
	}
	offered := tokens(r.Header.Values("Sec-WebSocket-Protocol"))
	p, sub := s.choose(offered)
	if p == nil {
		msg := fmt.Sprintf("no supported WebSocket subprotocol among %q (supported: %s)", offered, strings.Join(s.offer, ", "))
		if len(offered) == 0 {
			msg = "a WebSocket subprotocol is required here (supported: " + strings.Join(s.offer, ", ") + ")"
		}
		s.log.Info("WebSocket upgrade refused", "remote", r.RemoteAddr, "reason", msg)
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	var subs []string
	if sub != "" {
		subs = []string{sub}
	}
	hw := &hijackRecorder{ResponseWriter: w}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{
		Subprotocols: subs,
		// As ActiveMQ: any origin. Browsers send no credentials the
		// broker would honour (it authenticates in CONNECT, not with
		// cookies), so cross-origin pages gain nothing they could not do
		// from a plain client.
		InsecureSkipVerify: true,
	})
	if err != nil {
		// Accept has answered the request with the reason.
		s.log.Info("WebSocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	c := newConn(s, ws, p, sub, local, tcpAddr(r.RemoteAddr))
	c.raw = hw.conn
	if !s.lns[p.Name].deliver(c) {
		_ = ws.CloseNow()
	}
}

// choose picks the protocol and subprotocol for a client's offer.
func (s *Server) choose(offered []string) (*Protocol, string) {
	if len(offered) == 0 {
		for i := range s.opts.Protocols {
			if s.opts.Protocols[i].Default {
				return &s.opts.Protocols[i], ""
			}
		}
		return nil, ""
	}
	for i := range s.opts.Protocols {
		p := &s.opts.Protocols[i]
		for _, sp := range p.Subprotocols {
			if slices.ContainsFunc(offered, func(o string) bool { return strings.EqualFold(o, sp) }) {
				return p, sp
			}
		}
	}
	return nil, ""
}

// hijackRecorder keeps the TCP connection the upgrade takes over, so that
// Close can drop it under a closing handshake that hangs.
type hijackRecorder struct {
	http.ResponseWriter
	conn net.Conn
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("wsconn: the HTTP server cannot hand the connection over")
	}
	c, rw, err := hj.Hijack()
	h.conn = c
	return c, rw, err
}

func isUpgrade(r *http.Request) bool {
	return slices.ContainsFunc(tokens(r.Header.Values("Connection")), func(t string) bool { return strings.EqualFold(t, "upgrade") }) &&
		slices.ContainsFunc(tokens(r.Header.Values("Upgrade")), func(t string) bool { return strings.EqualFold(t, "websocket") })
}

// tokens splits comma-separated header values.
func tokens(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

func tcpAddr(s string) net.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return &net.TCPAddr{}
}

// listener is one protocol's net.Listener: upgraded connections wait in
// deliver until its connector's Accept takes them.
type listener struct {
	srv  *Server
	ch   chan *Conn
	once sync.Once
	done chan struct{}
}

func (l *listener) deliver(c *Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the address the Server listens on (once Serve has started).
func (l *listener) Addr() net.Addr {
	select {
	case <-l.srv.addrSet:
		return l.srv.addr
	default:
		return &net.TCPAddr{}
	}
}
