package admin

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tethermq/tether/server/internal/broker"
)

// Handler serves the console, the JSON API and /metrics. Create it with
// New when the server starts (before it is master), so that uptime and
// role changes are counted from then on.
type Handler struct {
	src     Source
	log     *slog.Logger
	started time.Time
	mux     *http.ServeMux
	reg     *prometheus.Registry
	commits commitMetrics
	csrfKey []byte

	mu          sync.Mutex
	role        string
	masterSince time.Time
	takeovers   uint64 // became master after waiting as a slave
	lockLosses  uint64 // stopped serving as master (lock lost)
	closing     bool
}

// New builds the Handler over src.
func New(src Source) *Handler {
	if src.Logger == nil {
		src.Logger = slog.Default()
	}
	h := &Handler{src: src, log: src.Logger, started: time.Now(), mux: http.NewServeMux(), csrfKey: make([]byte, 32)}
	_, _ = rand.Read(h.csrfKey) // crypto/rand.Read never fails (Go 1.24+)
	h.reg = h.newRegistry()
	h.routeAPI()
	h.routeConsole()
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// RoleChanged records a role change, for the overview and the metrics:
// slave to master is a takeover (a failover when another broker held the
// lock), master to stopped while the process runs a lost lock.
func (h *Handler) RoleChanged(role string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	prev := h.role
	h.role = role
	switch {
	case role == "master":
		h.masterSince = time.Now()
		if prev == "slave" {
			h.takeovers++
		}
	case prev == "master" && role == "stopped" && !h.closing:
		h.lockLosses++
	}
}

// Closing tells the Handler the server is closing on purpose, so that the
// master's stop is not counted as a lost lock.
func (h *Handler) Closing() {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
}

// AttachBroker starts collecting the new master broker's commit metrics.
// The server calls it as soon as the broker exists, before clients come.
func (h *Handler) AttachBroker(b *broker.Broker) {
	b.ObserveCommits(h.commits.observe)
}

func (h *Handler) broker() *broker.Broker {
	if h.src.Broker == nil {
		return nil
	}
	return h.src.Broker()
}

func (h *Handler) roleInfo() (role string, masterSince time.Time, takeovers, losses uint64) {
	role = "starting"
	if h.src.Role != nil {
		role = h.src.Role()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return role, h.masterSince, h.takeovers, h.lockLosses
}

// apiError is every JSON API error's body.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	writeJSON(w, statusOf(err), apiError{Error: err.Error()})
}

var errNotMaster = errors.New("not master: this broker serves no destinations now")

func statusOf(err error) int {
	switch {
	case errors.Is(err, errNotMaster):
		return http.StatusServiceUnavailable
	case errors.Is(err, broker.ErrNoDestination), errors.Is(err, broker.ErrNoMessage):
		return http.StatusNotFound
	case errors.Is(err, broker.ErrInUse):
		return http.StatusConflict
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

var errBadRequest = errors.New("bad request")
