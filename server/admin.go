package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/tethermq/tether/server/internal/admin"
	"github.com/tethermq/tether/server/internal/broker"
)

// startAdmin opens the admin HTTP port: the console, the JSON API and
// /metrics of package admin, and /healthz. It serves on both roles, so
// that a load balancer or an operator can ask any broker of a master/slave
// group which one is master. All but /healthz need an admins user when
// users are configured, and mutations refuse cross-origin requests
// (admin_auth.go). docs/admin.md lists the endpoints.
//
//	GET /healthz  "master" (200) or "slave"/"starting"/"stopped" (503)
func (s *Server) startAdmin() error {
	ln, err := net.Listen("tcp", s.cfg.AdminAddress)
	if err != nil {
		return fmt.Errorf("admin: listen %s: %w", s.cfg.AdminAddress, err)
	}
	s.adm = admin.New(admin.Source{
		Name: s.cfg.BrokerName, Logger: s.log.With("connector", "admin"),
		Broker:     func() *broker.Broker { return s.Broker() },
		Role:       func() string { return string(s.Role()) },
		Store:      s.storeStatus,
		Bridges:    s.NetworkBridges,
		Connectors: s.connectorInfo,
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		role := s.Role()
		if role != RoleMaster {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, role)
	})
	mux.Handle("/", s.adm)
	s.admin = &http.Server{Handler: s.guardAdmin(mux), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	s.adminL = ln
	s.addrs["admin"] = ln.Addr().String()
	go func() {
		if err := s.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin server stopped", "err", err)
		}
	}()
	s.log.Info("Admin at: http://"+ln.Addr().String(), "connector", "admin")
	return nil
}

func (s *Server) closeAdmin() {
	if s.admin != nil {
		_ = s.admin.Close()
	}
}

// adminRole tells the console about a role change.
func (s *Server) adminRole(r Role) {
	if s.adm != nil {
		s.adm.RoleChanged(string(r))
	}
}

func (s *Server) connectorInfo() []admin.ConnectorInfo {
	out := make([]admin.ConnectorInfo, 0, len(s.cfg.TransportConnectors))
	for _, tc := range s.cfg.TransportConnectors {
		out = append(out, admin.ConnectorInfo{Name: tc.Name, URI: tc.URI, Address: s.Addr(tc.Name)})
	}
	return out
}
