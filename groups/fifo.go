package groups

// fifo is a first-in first-out queue over a slice. Popped slots are cleared
// so that handled messages can be collected, and the slice is reused once it
// drains.
type fifo[T any] struct {
	buf  []T
	head int
}

func (q *fifo[T]) len() int { return len(q.buf) - q.head }

func (q *fifo[T]) push(v T) { q.buf = append(q.buf, v) }

// front returns the oldest element; the queue must not be empty.
func (q *fifo[T]) front() T { return q.buf[q.head] }

// pop removes the oldest element; the queue must not be empty.
func (q *fifo[T]) pop() T {
	var zero T
	v := q.buf[q.head]
	q.buf[q.head] = zero
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	} else if q.head > 64 && q.head*2 > len(q.buf) {
		// Slide the live half down so a long-lived queue that never drains
		// completely does not grow without bound.
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	return v
}
