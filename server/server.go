package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/tethermq/tether/server/auth"
	"github.com/tethermq/tether/server/internal/admin"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/stomp"
	"github.com/tethermq/tether/server/internal/store"
	"github.com/tethermq/tether/server/network"
)

// Role is a broker's place in a shared-store master/slave group.
type Role string

const (
	RoleStarting Role = "starting"
	RoleSlave    Role = "slave"
	RoleMaster   Role = "master"
	RoleStopped  Role = "stopped"
)

// protocolServer is what every connector (STOMP, AMQP, MQTT) provides.
type protocolServer interface {
	Serve(net.Listener) error
	Close() error
}

// Server is a running reference broker.
type Server struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	role   Role
	locker masterLock // the data directory's lock file, or the database lease
	st     store.Store
	b      *broker.Broker

	storeLimit int64
	protos     []protocolServer
	addrs      map[string]string
	admin      *http.Server
	adm        *admin.Handler // console, API and metrics (admin.go)
	adminL     net.Listener

	authn     *auth.Authenticator   // nil: anonymous access
	access    *broker.AccessControl // nil: no authorizationEntries
	tlsServer *tls.Config           // TLS listeners (nil without sslContext)
	tlsClient *tls.Config           // network bridges dialing ssl://

	networks   []*network.Connector // network connectors (master only)
	announcers []*network.Announcer // multicast announcements of transport connectors

	stopWatch context.CancelFunc
	watchDone chan struct{}
	fenced    chan struct{} // closed when the lock is lost
	fenceErr  error
	closeOnce sync.Once
	serveWG   sync.WaitGroup
}

// Start runs a broker: it opens the admin port, takes the master lock on the
// data directory (waiting as a slave, with no client port open, while
// another broker holds it), recovers the store and opens every transport
// connector. It returns once the broker serves, or with ctx's error if it
// was still a slave when ctx ended.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, role: RoleStarting, addrs: map[string]string{}, fenced: make(chan struct{})}
	if err := s.setUpSecurity(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDirectory, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if cfg.AdminAddress != "" {
		if err := s.startAdmin(); err != nil {
			return nil, err
		}
	}
	locker, err := s.newLocker(ctx)
	if err != nil {
		s.closeAdmin()
		return nil, err
	}
	s.locker = locker
	s.setRole(RoleSlave)
	if err := locker.Acquire(ctx); err != nil {
		s.setRole(RoleStopped)
		s.closeAdmin()
		_ = locker.Release()
		return nil, fmt.Errorf("waiting for the master lock: %w", err)
	}
	if err := s.becomeMaster(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) becomeMaster() error {
	cfg := s.cfg
	start := time.Now()
	st, err := s.openStore()
	if err != nil {
		return err
	}
	limit := storeLimit(cfg, st.Usage(), s.log)
	b, err := broker.New(broker.Config{
		Name: cfg.BrokerName, MemoryLimit: int64(cfg.MemoryLimit), MaxRedeliveries: cfg.MaxRedeliveries,
		DupWindow: cfg.DuplicateWindow, ConsumersBeforeDispatchStarts: cfg.ConsumersBeforeDispatchStarts,
		TimeBeforeDispatchStarts: time.Duration(cfg.TimeBeforeDispatchStarts), Logger: s.log,
		StoreLimit: limit, SendFailIfNoSpaceAfterTimeout: time.Duration(cfg.SendFailIfNoSpaceAfterTimeout),
	}, st)
	if err != nil {
		st.Close()
		return err
	}
	if j, ok := st.(*store.Journal); ok {
		js := j.Stats()
		s.log.Info("store opened", "dir", cfg.DataDirectory+"/journal", "took", time.Since(start).Round(time.Millisecond),
			"replayedRecords", js.RecordsReplayed, "indexRebuilt", js.Rebuilt, "storeUsageLimit", limit)
	} else {
		s.log.Info("store opened", "store", "postgresql", "took", time.Since(start).Round(time.Millisecond), "storeUsageLimit", limit)
	}
	s.mu.Lock()
	s.st, s.b, s.storeLimit = st, b, limit
	s.access = s.accessControl(b)
	s.mu.Unlock()
	if s.adm != nil {
		s.adm.AttachBroker(b)
	}

	for _, tc := range cfg.TransportConnectors {
		if err := s.openConnector(tc); err != nil {
			return err
		}
	}
	if err := s.startNetwork(); err != nil {
		return err
	}
	watchCtx, stop := context.WithCancel(context.Background())
	s.stopWatch = stop
	s.watchDone = make(chan struct{})
	go func() {
		defer close(s.watchDone)
		_ = s.locker.Watch(watchCtx, s.onLockLost)
	}()
	s.setRole(RoleMaster)
	s.log.Info("refbroker " + cfg.BrokerName + " started")
	return nil
}

func (s *Server) openConnector(tc Connector) error {
	scheme, addr, q, err := parseConnectorURI(tc.URI)
	if err != nil {
		return fmt.Errorf("connector %s: %w", tc.Name, err)
	}
	proto, secure := plainScheme(scheme)
	var p protocolServer
	switch proto {
	case "stomp", "tcp":
		o, err := stomp.ParseOptions(q)
		if err != nil {
			return fmt.Errorf("connector %s: %w", tc.Name, err)
		}
		o.Authenticate, o.Logger = s.authenticator(), s.log.With("connector", tc.Name)
		o.Access = s.access
		p = stomp.New(s.b, o)
	default:
		var err error
		if p, err = s.openExtraProtocol(proto, tc, q); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.Close()
		return fmt.Errorf("connector %s: listen %s: %w", tc.Name, addr, err)
	}
	if secure {
		ln = newTLSListener(ln, s.tlsServer, s.log.With("connector", tc.Name))
	}
	s.mu.Lock()
	s.protos = append(s.protos, p)
	s.addrs[tc.Name] = ln.Addr().String()
	s.mu.Unlock()
	s.serveWG.Add(1)
	go func() {
		defer s.serveWG.Done()
		if err := p.Serve(ln); err != nil {
			s.log.Error("connector stopped", "connector", tc.Name, "err", err)
		}
	}()
	host, _, _ := net.SplitHostPort(addr)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	s.log.Info("Listening for connections at: "+scheme+"://"+net.JoinHostPort(host, port), "connector", tc.Name)
	return nil
}

// onLockLost is fencing: another broker may now own the store, so stop
// serving at once and close the store before it can be written again.
func (s *Server) onLockLost(reason error) {
	s.log.Error("master lock lost: stopping every connector and closing the store", "reason", reason)
	s.fenceErr = reason
	s.stopServing()
	s.setRole(RoleStopped)
	close(s.fenced)
}

// Fenced is closed when the broker stopped serving because it lost the lock.
func (s *Server) Fenced() <-chan struct{} { return s.fenced }

// FenceReason is why the broker was fenced (nil until Fenced is closed).
func (s *Server) FenceReason() error { return s.fenceErr }

func (s *Server) stopServing() {
	s.stopNetwork()
	s.mu.Lock()
	protos := s.protos
	s.protos = nil
	b, st := s.b, s.st
	s.b, s.st = nil, nil
	s.mu.Unlock()
	for _, p := range protos {
		p.Close()
	}
	s.serveWG.Wait()
	giveUpStore(st)
	if b != nil {
		b.Close()
	}
	if st != nil {
		st.Close()
	}
}

// Close stops the broker gracefully: connectors stop accepting, in-flight
// store writes finish, the store closes and the lock is released.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.adm != nil {
			s.adm.Closing() // a deliberate stop, not a lost lock
		}
		if s.stopWatch != nil {
			s.stopWatch()
			<-s.watchDone
		}
		s.stopServing()
		if s.locker != nil {
			_ = s.locker.Release()
		}
		s.setRole(RoleStopped)
		s.closeAdmin()
		if s.authn != nil {
			s.authn.Close()
		}
		s.log.Info("refbroker " + s.cfg.BrokerName + " stopped")
	})
	return nil
}

// Addr returns the listening address (host:port) of the named connector.
func (s *Server) Addr(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[name]
}

// Broker is the running broker core (nil once stopped).
func (s *Server) Broker() *broker.Broker {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b
}

// Role says whether the broker is master, slave or stopped.
func (s *Server) Role() Role {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.role
}

func (s *Server) setRole(r Role) {
	s.mu.Lock()
	s.role = r
	s.mu.Unlock()
	s.adminRole(r)
}

// startNetwork starts the network connectors and the multicast
// announcements. Only a master does this (a slave starts nothing), after
// its transport connectors listen, so that what it announces answers.
func (s *Server) startNetwork() error {
	cfg := s.cfg
	announce := slices.ContainsFunc(cfg.TransportConnectors, func(tc Connector) bool { return tc.DiscoveryURI != "" })
	if len(cfg.NetworkConnectors) == 0 && !announce {
		return nil
	}
	id, err := network.LoadIdentity(cfg.DataDirectory)
	if err != nil {
		return err
	}
	memLimit := int64(cfg.MemoryLimit)
	if memLimit == 0 {
		memLimit = 64 << 20 // broker.New's default
	}
	env := network.Env{Broker: s.b, Name: cfg.BrokerName, Identity: id, MemoryLimit: memLimit, Logger: s.log, TLS: s.tlsClient}
	for _, nc := range cfg.NetworkConnectors {
		c, err := network.Start(nc, env)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.networks = append(s.networks, c)
		s.mu.Unlock()
	}
	for _, tc := range cfg.TransportConnectors {
		if tc.DiscoveryURI == "" {
			continue
		}
		a, err := network.Announce(tc.DiscoveryURI, cfg.BrokerName, s.publishedURI(tc), s.log.With("connector", tc.Name))
		if err != nil {
			return fmt.Errorf("connector %s: %w", tc.Name, err)
		}
		s.mu.Lock()
		s.announcers = append(s.announcers, a)
		s.mu.Unlock()
	}
	return nil
}

// publishedURI is the address other brokers dial to reach tc: its scheme
// and port, and its host unless it listens on every interface, in which
// case the machine's name stands in (ActiveMQ's default publishedAddress).
func (s *Server) publishedURI(tc Connector) string {
	scheme, addr, _, _ := parseConnectorURI(tc.URI)
	host, _, _ := net.SplitHostPort(addr)
	_, port, _ := net.SplitHostPort(s.Addr(tc.Name))
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// stopNetwork stops announcing (peers drop their bridges to us at once)
// and stops every bridge before the connectors and the broker close.
func (s *Server) stopNetwork() {
	s.mu.Lock()
	announcers, networks := s.announcers, s.networks
	s.announcers, s.networks = nil, nil
	s.mu.Unlock()
	for _, a := range announcers {
		a.Close()
	}
	for _, c := range networks {
		c.Close()
	}
}

// NetworkBridges lists the bridges of every network connector.
func (s *Server) NetworkBridges() []network.BridgeInfo {
	s.mu.Lock()
	networks := s.networks
	s.mu.Unlock()
	var out []network.BridgeInfo
	for _, c := range networks {
		out = append(out, c.Bridges()...)
	}
	return out
}
