package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// startAdmin opens the admin HTTP port. It serves on both roles, so that a
// load balancer or an operator can ask any broker of a master/slave group
// which one is master:
//
//	GET  /healthz                 "master" (200) or "slave"/"starting"/"stopped" (503)
//	GET  /api/destinations        JSON counters for every queue and subscription
//	GET  /api/store               disk used and live, the limits, the journal's counters
//	POST /api/groups/reset?queue= forget a queue's message-group owners (rebalance)
func (s *Server) startAdmin() error {
	ln, err := net.Listen("tcp", s.cfg.AdminAddress)
	if err != nil {
		return fmt.Errorf("admin: listen %s: %w", s.cfg.AdminAddress, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		role := s.Role()
		if role != RoleMaster {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, role)
	})
	mux.HandleFunc("GET /api/destinations", func(w http.ResponseWriter, r *http.Request) {
		b := s.Broker()
		if b == nil {
			http.Error(w, "not master", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(b.Stats())
	})
	mux.HandleFunc("GET /api/store", func(w http.ResponseWriter, r *http.Request) {
		b := s.Broker()
		if b == nil {
			http.Error(w, "not master", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.storeStatus())
	})
	mux.HandleFunc("POST /api/groups/reset", func(w http.ResponseWriter, r *http.Request) {
		b := s.Broker()
		if b == nil {
			http.Error(w, "not master", http.StatusServiceUnavailable)
			return
		}
		if err := b.ResetGroups(r.URL.Query().Get("queue")); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	s.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
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
