package amqp

import (
	"fmt"
	"testing"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tethermq/tether/server/internal/broker"
)

// A receiver asking for distribution-mode copy on a queue is a browser:
// it gets the waiting messages, and they stay for the queue's consumers.
func TestCopyDistributionModeBrowses(t *testing.T) {
	e := startEnv(t, Options{}, "")
	s := e.client()
	snd := e.sender(s, "browsed", nil)
	for i := range 3 {
		m := goamqpMessage(fmt.Sprint("m", i))
		m.ApplicationProperties = map[string]any{"n": int32(i)}
		send(t, snd, m)
	}
	browse := func(o *goamqp.ReceiverOptions, n int) []string {
		t.Helper()
		o.SourceDistributionMode = goamqp.SourceDistributionModeCopy
		o.Credit = -1 // manual credit, so that the browser can drain
		r := e.receiver(s, "browsed", o)
		if err := r.IssueCredit(10); err != nil {
			t.Fatal(err)
		}
		var got []string
		for range n {
			m := receive(t, r)
			accept(t, r, m) // an outcome on a copy consumes nothing
			got = append(got, string(m.GetData()))
		}
		// The drain completes, with nothing more: the browse is over.
		if err := r.DrainCredit(ctxT(t), nil); err != nil {
			t.Fatalf("drain: %v", err)
		}
		if m := r.Prefetched(); m != nil {
			t.Fatalf("browsed more than %d: %q", n, m.GetData())
		}
		if err := r.Close(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := browse(&goamqp.ReceiverOptions{}, 3); fmt.Sprint(got) != "[m0 m1 m2]" {
		t.Fatalf("browsed %v", got)
	}
	if got := browse(&goamqp.ReceiverOptions{Filters: []goamqp.LinkFilter{goamqp.NewSelectorFilter("n > 0")}}, 2); fmt.Sprint(got) != "[m1 m2]" {
		t.Fatalf("browsed with a selector: %v", got)
	}
	if st := e.stats("browsed"); st.Pending != 3 || st.Dequeued != 0 {
		t.Fatalf("after browsing: %+v", st)
	}
	// The messages are still there for a consumer.
	r := e.receiver(s, "browsed", &goamqp.ReceiverOptions{Credit: 10})
	for i := range 3 {
		m := receive(t, r)
		accept(t, r, m)
		if string(m.GetData()) != fmt.Sprint("m", i) {
			t.Fatalf("consumed %q", m.GetData())
		}
	}
}

// A browser sees a backlog larger than the broker keeps in memory: the
// messages paged out to disk are read for it as its credit allows.
func TestBrowsePagedOutBacklog(t *testing.T) {
	e := startEnv(t, Options{}, "")
	bs, err := e.b.NewSession(broker.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	const n = 2500 // beyond the broker's in-memory window per queue
	errs := make(chan error, n)
	for i := range n {
		m := &broker.Message{Dest: broker.Destination{Name: "backlog"}, Body: []byte(fmt.Sprint(i)), Persistent: true, Priority: 4}
		bs.Send(ctxT(t), m, "", func(err error) { errs <- err })
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := e.stats("backlog"); st.OnDisk == 0 {
		t.Fatalf("nothing paged out: %+v", st)
	}
	r := e.receiver(e.client(), "backlog", &goamqp.ReceiverOptions{SourceDistributionMode: goamqp.SourceDistributionModeCopy, Credit: 100})
	for i := range n {
		m := receive(t, r)
		if string(m.GetData()) != fmt.Sprint(i) {
			t.Fatalf("browsed %q at %d", m.GetData(), i)
		}
		accept(t, r, m)
	}
	if st := e.stats("backlog"); st.Pending != n || st.Dequeued != 0 {
		t.Fatalf("after browsing: %+v", st)
	}
}
