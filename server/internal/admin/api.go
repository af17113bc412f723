package admin

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tethermq/tether/server/internal/broker"
)

// Bounds of what one answer carries, so that a queue with a million groups
// or messages costs a page, not the whole queue.
const (
	maxGroupsListed  = 1000 // group owners per queue
	defaultPageSize  = 50   // browsed messages per page
	maxPageSize      = 500
	bodyPreviewBytes = 1024
)

func (h *Handler) routeAPI() {
	m := h.mux
	m.HandleFunc("GET /api/overview", h.apiOverview)
	m.HandleFunc("GET /api/destinations", h.withBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		writeJSON(w, http.StatusOK, b.Stats())
	}))
	m.HandleFunc("GET /api/store", h.withBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		writeJSON(w, http.StatusOK, h.src.Store())
	}))
	m.HandleFunc("GET /api/queues", h.withBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		writeJSON(w, http.StatusOK, b.Queues(maxGroupsListed))
	}))
	m.HandleFunc("GET /api/queues/{name}", h.withBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		q, err := b.Queue(r.PathValue("name"), maxGroupsListed)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, q)
	}))
	m.HandleFunc("GET /api/queues/{name}/messages", h.withBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		offset, limit, err := page(r)
		if err != nil {
			writeError(w, err)
			return
		}
		msgs, err := b.BrowseQueue(r.PathValue("name"), offset, limit)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, messageViews(msgs))
	}))
	m.HandleFunc("POST /api/queues/{name}/purge", h.withBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		n, err := b.PurgeQueue(r.PathValue("name"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"purged": n})
	}))
	m.HandleFunc("POST /api/queues/{name}/delete", h.withBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		if err := b.DeleteQueue(r.PathValue("name")); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"deleted": "queue://" + r.PathValue("name")})
	}))
	resetGroups := func(w http.ResponseWriter, r *http.Request, b *broker.Broker, name string) {
		if err := b.ResetGroups(name); err != nil {
			writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"reset": "queue://" + name})
	}
	m.HandleFunc("POST /api/queues/{name}/groups/reset", h.withBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		resetGroups(w, r, b, r.PathValue("name"))
	}))
	// The older spelling, kept for scripts written against it.
	m.HandleFunc("POST /api/groups/reset", h.withBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		resetGroups(w, r, b, r.URL.Query().Get("queue"))
	}))
	m.HandleFunc("GET /api/topics", h.withBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		writeJSON(w, http.StatusOK, b.Subscriptions())
	}))
	m.HandleFunc("POST /api/subscriptions/{clientID}/{name}/delete", h.withBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		if err := b.DeleteDurable(r.PathValue("clientID"), r.PathValue("name")); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("clientID") + "/" + r.PathValue("name")})
	}))
	m.HandleFunc("POST /api/dlq/move", h.withBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		id := r.FormValue("id")
		if id == "" {
			writeError(w, fmt.Errorf("%w: give the message id as id=", errBadRequest))
			return
		}
		to, err := b.MoveFromDLQ(id)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"id": id, "movedTo": to.String()})
	}))
	m.HandleFunc("GET /api/connections", h.withBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		writeJSON(w, http.StatusOK, b.Connections())
	}))
	m.HandleFunc("GET /api/bridges", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, h.bridges())
	})
	m.Handle("GET /metrics", h.metricsHandler())
}

func (h *Handler) bridges() []BridgeView {
	if h.src.Bridges == nil {
		return []BridgeView{}
	}
	return bridgeViews(h.src.Bridges())
}

// withBroker answers 503 while there is no broker (a slave).
func (h *Handler) withBroker(fn func(http.ResponseWriter, *http.Request, *broker.Broker)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b := h.broker()
		if b == nil {
			writeError(w, errNotMaster)
			return
		}
		fn(w, r, b)
	}
}

func page(r *http.Request) (offset, limit int, err error) {
	offset, limit = 0, defaultPageSize
	q := r.URL.Query()
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, fmt.Errorf("%w: offset %q is not a count", errBadRequest, v)
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit <= 0 || limit > maxPageSize {
			return 0, 0, fmt.Errorf("%w: limit %q: give 1 to %d", errBadRequest, v, maxPageSize)
		}
	}
	return offset, limit, nil
}

// Overview is the broker at a glance.
type Overview struct {
	Name        string          `json:"name"`
	Role        string          `json:"role"`
	StartedAt   time.Time       `json:"startedAt"`
	Uptime      string          `json:"uptime"`
	MasterSince *time.Time      `json:"masterSince,omitempty"`
	Takeovers   uint64          `json:"takeovers"`
	LockLosses  uint64          `json:"lockLosses"`
	Store       *StoreStatus    `json:"store,omitempty"`
	Connectors  []ConnectorInfo `json:"connectors"`
	Connections map[string]int  `json:"connections"` // by protocol
	Queues      int             `json:"queues"`
	Messages    int             `json:"messages"` // waiting in queues
	Bridges     []BridgeView    `json:"bridges"`
}

func (h *Handler) overview() Overview {
	role, since, takeovers, losses := h.roleInfo()
	o := Overview{Name: h.src.Name, Role: role, StartedAt: h.started, Uptime: time.Since(h.started).Round(time.Second).String(),
		Takeovers: takeovers, LockLosses: losses, Connections: map[string]int{}, Bridges: h.bridges()}
	if role == "master" && !since.IsZero() {
		o.MasterSince = &since
	}
	if h.src.Connectors != nil {
		o.Connectors = h.src.Connectors()
	}
	if b := h.broker(); b != nil {
		st := h.src.Store()
		o.Store = &st
		for _, c := range b.Connections() {
			o.Connections[c.Protocol]++
		}
		for _, q := range b.Stats() {
			if q.Subscription == "" && strings.HasPrefix(q.Destination, "queue://") {
				o.Queues++
				o.Messages += q.Pending
			}
		}
	}
	return o
}

func (h *Handler) apiOverview(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.overview())
}

// MessageView is a browsed message: its headers and a preview of its body.
type MessageView struct {
	ID            string          `json:"id"`
	Destination   string          `json:"destination"`
	Persistent    bool            `json:"persistent"`
	Priority      uint8           `json:"priority"`
	Timestamp     time.Time       `json:"timestamp"`
	Expires       *time.Time      `json:"expires,omitempty"`
	CorrelationID string          `json:"correlationId,omitempty"`
	ReplyTo       string          `json:"replyTo,omitempty"`
	Type          string          `json:"type,omitempty"`
	ContentType   string          `json:"contentType,omitempty"`
	GroupID       string          `json:"groupId,omitempty"`
	GroupSeq      int32           `json:"groupSeq,omitempty"`
	Headers       []broker.Header `json:"headers,omitempty"`
	BodyBytes     int             `json:"bodyBytes"`
	Body          string          `json:"body"`                   // the first bodyPreviewBytes, as text
	BodyEncoding  string          `json:"bodyEncoding,omitempty"` // "hex" when the body is not UTF-8 text
	Truncated     bool            `json:"truncated,omitempty"`
}

func messageViews(msgs []*broker.Message) []MessageView {
	out := make([]MessageView, 0, len(msgs))
	for _, m := range msgs {
		v := MessageView{ID: m.ID, Destination: m.Dest.String(), Persistent: m.Persistent, Priority: m.Priority,
			Timestamp: time.UnixMilli(m.Timestamp).UTC(), CorrelationID: m.CorrelationID, ReplyTo: m.ReplyTo, Type: m.Type,
			ContentType: m.ContentType, GroupID: m.GroupID, GroupSeq: m.GroupSeq, Headers: m.Headers, BodyBytes: len(m.Body)}
		if m.Expires > 0 {
			t := time.UnixMilli(m.Expires).UTC()
			v.Expires = &t
		}
		body := m.Body
		if len(body) > bodyPreviewBytes {
			body, v.Truncated = body[:bodyPreviewBytes], true
			// Do not cut a character in two.
			for i := 0; i < utf8.UTFMax-1 && !utf8.Valid(body); i++ {
				body = body[:len(body)-1]
			}
			if !utf8.Valid(body) {
				body = m.Body[:bodyPreviewBytes]
			}
		}
		if utf8.Valid(body) {
			v.Body = string(body)
		} else {
			v.Body, v.BodyEncoding = fmt.Sprintf("%x", body), "hex"
		}
		out = append(out, v)
	}
	return out
}
