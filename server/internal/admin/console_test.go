package admin

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/store"
)

// newTestHandler serves a Handler over a fresh broker (no HTTP server:
// the console's own logic, without the server's authentication).
func newTestHandler(t *testing.T) (*Handler, *broker.Broker) {
	t.Helper()
	st, err := store.OpenJournal(t.TempDir(), store.JournalOptions{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(broker.Config{Name: "unit", Logger: slog.New(slog.DiscardHandler)}, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(); st.Close() })
	h := New(Source{Name: "unit", Broker: func() *broker.Broker { return b }, Role: func() string { return "master" },
		Store: func() StoreStatus { return StoreStatus{MemoryLimit: b.MemoryLimit()} }, Logger: slog.New(slog.DiscardHandler)})
	h.AttachBroker(b)
	return h, b
}

func get(t *testing.T, h http.Handler, path, user string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if user != "" {
		req.SetBasicAuth(user, "pw")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func send(t *testing.T, b *broker.Broker, queue string, n int) {
	t.Helper()
	s, err := b.NewSession(broker.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		done := make(chan error, 1)
		s.Send(context.Background(), &broker.Message{Dest: broker.Destination{Kind: broker.Queue, Name: queue}, Body: []byte(fmt.Sprint(i)), Persistent: true},
			"", func(err error) { done <- err })
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// The queues page shows 200 at a time, with a way to the rest.
func TestQueuesPageIsPaged(t *testing.T) {
	h, b := newTestHandler(t)
	for i := range queuesPerPage + 5 {
		send(t, b, fmt.Sprintf("q%04d", i), 1)
	}
	rows := regexp.MustCompile(`<tr data-queue=`)
	code, body := get(t, h, "/queues", "")
	if code != 200 || len(rows.FindAllString(body, -1)) != queuesPerPage || !strings.Contains(body, `offset=200">next`) {
		t.Fatalf("first page: %d, %d rows", code, len(rows.FindAllString(body, -1)))
	}
	_, body = get(t, h, "/queues?offset=200", "")
	if n := len(rows.FindAllString(body, -1)); n != 5 || !strings.Contains(body, `data-queue="q0204"`) || strings.Contains(body, ">next") {
		t.Fatalf("second page: %d rows", n)
	}
	if code, _ := get(t, h, "/queues?offset=-1", ""); code != http.StatusBadRequest {
		t.Fatalf("a negative offset = %d", code)
	}
}

// A form's token belongs to the user who loaded it: another user's, or
// none, is refused; every action has a confirmation page.
func TestConsoleActionsNeedTheirToken(t *testing.T) {
	h, b := newTestHandler(t)
	send(t, b, "orders", 3)
	token := func(user string) string {
		_, body := get(t, h, "/confirm?action=purge&queue=orders", user)
		m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no token in the confirmation page: %s", body)
		}
		return m[1]
	}
	post := func(user, tok string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/actions/purge", strings.NewReader(url.Values{"csrf": {tok}, "queue": {"orders"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, "pw")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := post("mallory", token("alice")); rec.Code != http.StatusForbidden {
		t.Fatalf("another user's token: %d", rec.Code)
	}
	if rec := post("alice", ""); rec.Code != http.StatusForbidden {
		t.Fatalf("no token: %d", rec.Code)
	}
	if q, _ := b.Queue("orders", 0); q.Pending != 3 {
		t.Fatalf("a refused purge purged: %+v", q)
	}
	rec := post("alice", token("alice"))
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/queues/orders?msg=Purged+3+messages") {
		t.Fatalf("purge: %d %v", rec.Code, rec.Header())
	}
	for _, a := range []string{"purge&queue=orders", "delete&queue=orders", "reset-groups&queue=orders", "move&id=ID:x", "unsubscribe&client=c&sub=s"} {
		if code, body := get(t, h, "/confirm?action="+a, "alice"); code != 200 || !strings.Contains(body, `id="confirm-form"`) {
			t.Errorf("confirmation of %s: %d", a, code)
		}
	}
	if code, _ := get(t, h, "/confirm?action=format-disk", "alice"); code != http.StatusBadRequest {
		t.Errorf("an unknown action: %d", code)
	}
}
