package stomp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/tethermq/tether/server/internal/broker"
)

// Options configure the connector.
type Options struct {
	// Authenticate checks CONNECT's login and passcode; nil allows anyone.
	Authenticate func(user, pass string) error
	// Access, when set, authorizes every SEND and SUBSCRIBE; a refusal is
	// an ERROR naming the destination, and the connection stays open.
	Access *broker.AccessControl
	// MaxConnections refuses connections beyond this many (0 = unlimited);
	// URI option maximumConnections.
	MaxConnections int
	// MaxFrameSize bounds a frame's command, headers and body (default
	// 100 MiB, ActiveMQ's); URI option wireFormat.maxFrameSize.
	MaxFrameSize int
	// ConnectTimeout bounds the wait for the CONNECT frame (default 10 s).
	ConnectTimeout time.Duration
	// HeartBeatGrace multiplies the client's promised heart-beat interval
	// before a silent client is dropped (default 1.5; URI option
	// transport.hbGracePeriodMultiplier).
	HeartBeatGrace float64
	// WriteTimeout bounds one write to a client that stopped reading
	// (default 30 s).
	WriteTimeout time.Duration
	Logger       *slog.Logger
}

// ParseOptions reads connector options from a transport connector URI's
// query. Unknown options are an error, as in ActiveMQ.
func ParseOptions(q url.Values) (Options, error) {
	var o Options
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "maximumConnections":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return o, fmt.Errorf("maximumConnections=%q: want a non-negative integer", v)
			}
			o.MaxConnections = n
		case "wireFormat.maxFrameSize", "wireFormat.maxDataLength":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return o, fmt.Errorf("%s=%q: want a positive integer", k, v)
			}
			o.MaxFrameSize = n
		case "transport.hbGracePeriodMultiplier":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 1 {
				return o, fmt.Errorf("%s=%q: want a number >= 1", k, v)
			}
			o.HeartBeatGrace = f
		default:
			return o, fmt.Errorf("unknown STOMP connector option %q", k)
		}
	}
	return o, nil
}

// Server serves STOMP on listeners for one broker.
type Server struct {
	b    *broker.Broker
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	lns    map[net.Listener]struct{}
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// New creates a connector for b.
func New(b *broker.Broker, o Options) *Server {
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = 100 << 20
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.HeartBeatGrace < 1 {
		o.HeartBeatGrace = 1.5
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Server{b: b, opts: o, log: o.Logger, lns: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}}
}

// Serve accepts connections on ln until Close. It returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Transient (e.g. EMFILE surfaces as temporary): back off.
				delay = min(max(delay*2, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("stomp: accept: %w", err)
		}
		delay = 0
		s.startConn(nc)
	}
}

func (s *Server) startConn(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlivePeriod(30 * time.Second)
	}
	c := newConn(s, nc)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	over := s.opts.MaxConnections > 0 && len(s.conns) >= s.opts.MaxConnections
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		if over {
			c.refuse(fmt.Sprintf("maximum connections (%d) reached", s.opts.MaxConnections))
		} else {
			c.serve()
		}
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// Close stops accepting, closes every connection (their sessions close, so
// in-flight messages are redelivered) and waits for their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.lns {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
	s.wg.Wait()
	return nil
}

// Connections is the number of open client connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
