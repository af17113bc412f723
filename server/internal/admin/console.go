package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tethermq/tether/server/internal/broker"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var funcs = template.FuncMap{
	"bytes": broker.FormatBytes,
	"pct": func(n, of int64) string {
		if of <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
	},
	"ratio": func(n, of int64) float64 {
		if of <= 0 {
			return 0
		}
		return min(1, float64(n)/float64(of))
	},
	"pathEscape": url.PathEscape,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"ago":       func(t time.Time) string { return time.Since(t).Round(time.Second).String() },
	"queueName": func(d string) string { return strings.TrimPrefix(d, "queue://") },
	"isDLQ":     func(d string) bool { return d == broker.DLQ.String() },
}

// pages are parsed once: the layout with each page's body.
var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, p := range []string{"overview", "queues", "queue", "topics", "connections", "network", "confirm", "error"} {
		out[p] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html"))
	}
	return out
}()

// queuesPerPage bounds the queues page.
const queuesPerPage = 200

// pageData is what every console template gets.
type pageData struct {
	Title string
	Nav   string
	Name  string
	Role  string
	Flash string
	CSRF  string
	Data  any
}

func (h *Handler) routeConsole() {
	m := h.mux
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, "overview", "Overview", "overview", h.overview())
	})
	m.HandleFunc("GET /queues", h.consoleBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		// Paged and filtered by name: a broker may have thousands.
		offset, _, err := page(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		filter := r.URL.Query().Get("q")
		var qs []broker.QueueDetail
		for _, q := range b.Queues(0) {
			if strings.Contains(q.Destination, filter) {
				qs = append(qs, q)
			}
		}
		type view struct {
			Queues                   []broker.QueueDetail
			Filter                   string
			Total, Offset, Next, End int
			Prev                     int
			More                     bool
		}
		end := min(len(qs), offset+queuesPerPage)
		v := view{Filter: filter, Total: len(qs), Offset: offset, Next: end, End: end, Prev: max(0, offset-queuesPerPage), More: end < len(qs)}
		if offset < len(qs) {
			v.Queues = qs[offset:end]
		}
		h.render(w, r, "queues", "Queues", "queues", v)
	}))
	m.HandleFunc("GET /queues/{name}", h.consoleBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		name := r.PathValue("name")
		q, err := b.Queue(name, maxGroupsListed)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		offset, limit, err := page(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		msgs, err := b.BrowseQueue(name, offset, limit)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		type view struct {
			Q            broker.QueueDetail
			Name         string
			Messages     []MessageView
			Offset, Next int
			Prev         int
			More         bool
		}
		v := view{Q: q, Name: name, Messages: messageViews(msgs), Offset: offset, Next: offset + limit, Prev: max(0, offset-limit), More: len(msgs) == limit}
		h.render(w, r, "queue", "Queue "+name, "queues", v)
	}))
	m.HandleFunc("GET /topics", h.consoleBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		h.render(w, r, "topics", "Topics", "topics", b.Subscriptions())
	}))
	m.HandleFunc("GET /connections", h.consoleBroker(func(w http.ResponseWriter, r *http.Request, b *broker.Broker) {
		h.render(w, r, "connections", "Connections", "connections", b.Connections())
	}))
	m.HandleFunc("GET /network", func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, "network", "Network", "network", h.bridges())
	})
	m.HandleFunc("GET /confirm", h.confirm)
	m.HandleFunc("POST /actions/{action}", h.act)
}

func (h *Handler) consoleBroker(fn func(http.ResponseWriter, *http.Request, *broker.Broker)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b := h.broker()
		if b == nil {
			h.fail(w, r, errNotMaster)
			return
		}
		fn(w, r, b)
	}
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, tmpl, title, nav string, data any) {
	h.renderStatus(w, r, http.StatusOK, tmpl, title, nav, data)
}

func (h *Handler) renderStatus(w http.ResponseWriter, r *http.Request, status int, tmpl, title, nav string, data any) {
	role, _, _, _ := h.roleInfo()
	pd := pageData{Title: title, Nav: nav, Name: h.src.Name, Role: role, Flash: r.URL.Query().Get("msg"), CSRF: h.csrfToken(r), Data: data}
	var sb strings.Builder
	if err := pages[tmpl].Execute(&sb, pd); err != nil {
		h.log.Error("console template failed", "page", tmpl, "err", err)
		http.Error(w, "console page failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The console needs nothing from elsewhere and runs no script.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(sb.String()))
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.renderStatus(w, r, statusOf(err), "error", "Error", "", err.Error())
}

// csrfToken binds a form to the user who loaded it and to this process:
// the guard already refuses cross-origin posts, and a token a page on
// another site cannot read is the second lock, for browsers that send
// neither Origin nor Sec-Fetch-Site.
func (h *Handler) csrfToken(r *http.Request) string {
	user, _, _ := r.BasicAuth()
	mac := hmac.New(sha256.New, h.csrfKey)
	mac.Write([]byte("tether-console\x00" + user))
	return hex.EncodeToString(mac.Sum(nil))
}

// action is one console operation: what the confirmation page says and
// what the post does.
type action struct {
	Name, Verb, Target string
	Fields             map[string]string // hidden form fields
	Back               string            // where to go after (or on cancel)
}

func (h *Handler) describe(r *http.Request, name string) (action, error) {
	get := func(k string) string { return r.FormValue(k) }
	q := get("queue")
	switch name {
	case "purge":
		return action{Name: name, Verb: "Purge every waiting message of", Target: "queue://" + q, Fields: map[string]string{"queue": q}, Back: "/queues/" + url.PathEscape(q)}, nil
	case "delete":
		return action{Name: name, Verb: "Delete, with its messages,", Target: "queue://" + q, Fields: map[string]string{"queue": q}, Back: "/queues"}, nil
	case "reset-groups":
		return action{Name: name, Verb: "Forget the message-group owners of", Target: "queue://" + q, Fields: map[string]string{"queue": q}, Back: "/queues/" + url.PathEscape(q)}, nil
	case "move":
		id := get("id")
		return action{Name: name, Verb: "Move back to its original destination the dead letter", Target: id, Fields: map[string]string{"id": id}, Back: "/queues/" + url.PathEscape(broker.DLQ.Name)}, nil
	case "unsubscribe":
		c, s := get("client"), get("sub")
		return action{Name: name, Verb: "Delete, with its messages, the durable subscription", Target: c + "/" + s, Fields: map[string]string{"client": c, "sub": s}, Back: "/topics"}, nil
	}
	return action{}, fmt.Errorf("%w: no action %q", errBadRequest, name)
}

func (h *Handler) confirm(w http.ResponseWriter, r *http.Request) {
	a, err := h.describe(r, r.URL.Query().Get("action"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, "confirm", "Confirm", "", a)
}

func (h *Handler) act(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(h.csrfToken(r))) {
		h.renderStatus(w, r, http.StatusForbidden, "error", "Error", "", "the form's CSRF token is missing or stale: reload the page and try again")
		return
	}
	a, err := h.describe(r, r.PathValue("action"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b := h.broker()
	if b == nil {
		h.fail(w, r, errNotMaster)
		return
	}
	var msg string
	switch a.Name {
	case "purge":
		var n int
		if n, err = b.PurgeQueue(a.Fields["queue"]); err == nil {
			msg = fmt.Sprintf("Purged %d messages from %s.", n, a.Target)
		}
	case "delete":
		if err = b.DeleteQueue(a.Fields["queue"]); err == nil {
			msg = "Deleted " + a.Target + "."
		}
	case "reset-groups":
		if err = b.ResetGroups(a.Fields["queue"]); err == nil {
			msg = "Reset the message groups of " + a.Target + "."
		} else {
			err = fmt.Errorf("%w: %v", broker.ErrNoDestination, err)
		}
	case "move":
		var to broker.Destination
		if to, err = b.MoveFromDLQ(a.Fields["id"]); err == nil {
			msg = "Moved " + a.Target + " to " + to.String() + "."
		}
	case "unsubscribe":
		if err = b.DeleteDurable(a.Fields["client"], a.Fields["sub"]); err == nil {
			msg = "Deleted the durable subscription " + a.Target + "."
		}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("console action", "action", a.Name, "target", a.Target, "user", basicUser(r))
	http.Redirect(w, r, a.Back+"?msg="+url.QueryEscape(msg), http.StatusSeeOther)
}

func basicUser(r *http.Request) string {
	u, _, _ := r.BasicAuth()
	return u
}
