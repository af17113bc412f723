package amqp

import (
	"fmt"
	"testing"

	goamqp "github.com/Azure/go-amqp"
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
