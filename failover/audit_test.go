package failover

import "testing"

func TestSendIDsDropOnlyASecondStoredCopy(t *testing.T) {
	w := newSendIDs(2)
	if w.seen("d1", "m1") {
		t.Fatal("first copy reported as duplicate")
	}
	if w.seen("d1", "m1") {
		t.Fatal("a redelivery of the same message reported as a second copy")
	}
	if !w.seen("d1", "m2") {
		t.Fatal("a second stored copy not reported")
	}
	if w.seen("", "m3") {
		t.Fatal("a message without a duplicate id reported")
	}
	w.seen("d2", "m4")
	w.seen("d3", "m5") // evicts d1
	if w.seen("d1", "m6") {
		t.Fatal("an evicted id still remembered")
	}
}
