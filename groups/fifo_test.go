package groups

import "testing"

// A queue that never drains completely must keep its order when it compacts.
func TestFifoKeepsOrderAcrossCompaction(t *testing.T) {
	var q fifo[int]
	next, want := 0, 0
	for range 50 {
		for range 7 {
			q.push(next)
			next++
		}
		for range 5 {
			if got := q.pop(); got != want {
				t.Fatalf("pop = %d, want %d", got, want)
			}
			want++
		}
	}
	if q.len() != next-want || q.front() != want {
		t.Fatalf("len %d front %d; want %d, %d", q.len(), q.front(), next-want, want)
	}
	if len(q.buf) > 2*q.len()+64 {
		t.Fatalf("buffer holds %d slots for %d elements", len(q.buf), q.len())
	}
}
