package groups

// links are the two pointers a value needs to sit in one dlist. Values embed
// them, so that moving a value in and out of a list never allocates: the
// broker's dispatch path moves groups between busy and idle on every message.
type links[T any] struct {
	prev, next *T
	in         bool
}

// dlist is an intrusive doubly linked list. at returns a value's links for
// this particular list, which lets one value sit in several lists at once.
type dlist[T any] struct {
	head, tail *T
	n          int
	at         func(*T) *links[T]
}

func newDlist[T any](at func(*T) *links[T]) dlist[T] {
	return dlist[T]{at: at}
}

func (l *dlist[T]) len() int           { return l.n }
func (l *dlist[T]) front() *T          { return l.head }
func (l *dlist[T]) back() *T           { return l.tail }
func (l *dlist[T]) next(v *T) *T       { return l.at(v).next }
func (l *dlist[T]) contains(v *T) bool { return l.at(v).in }

func (l *dlist[T]) pushFront(v *T) {
	lv := l.at(v)
	lv.prev, lv.next, lv.in = nil, l.head, true
	if l.head != nil {
		l.at(l.head).prev = v
	} else {
		l.tail = v
	}
	l.head = v
	l.n++
}

// remove unlinks v; it is a no-op when v is not in the list.
func (l *dlist[T]) remove(v *T) {
	lv := l.at(v)
	if !lv.in {
		return
	}
	if lv.prev != nil {
		l.at(lv.prev).next = lv.next
	} else {
		l.head = lv.next
	}
	if lv.next != nil {
		l.at(lv.next).prev = lv.prev
	} else {
		l.tail = lv.prev
	}
	*lv = links[T]{}
	l.n--
}
