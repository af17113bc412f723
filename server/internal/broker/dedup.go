package broker

import (
	"encoding/binary"
	"sort"
)

// dupWindow remembers the last size duplicate-detection ids sent to one
// destination (Artemis's _AMQ_DUPL_ID, 20,000 by default). Its persisted
// form is one key per id, written in the same batch as the message, so a
// re-send after a crash or a master change is still recognised.
type dupWindow struct {
	dest  string
	size  int
	ids   map[string]uint64 // id -> insertion order
	ring  []dupSlot         // insertion order; once full, the oldest is at head
	head  int
	count uint64
}

type dupSlot struct {
	id string
	n  uint64
}

func newDupWindow(dest string, size int) *dupWindow {
	if size <= 0 {
		size = 1
	}
	return &dupWindow{dest: dest, size: size, ids: make(map[string]uint64)}
}

func (w *dupWindow) contains(id string) bool {
	_, ok := w.ids[id]
	return ok
}

// add records id and returns the store mutations that persist it: a set for
// id and, when the window is full, the key of the id it evicts (nil if none).
func (w *dupWindow) add(id string, persist bool) (set [2][]byte, evicted []byte) {
	w.count++
	w.ids[id] = w.count
	slot := dupSlot{id, w.count}
	if len(w.ring) < w.size {
		w.ring = append(w.ring, slot)
	} else {
		old := w.ring[w.head]
		w.ring[w.head] = slot
		w.head = (w.head + 1) % w.size
		// The slot may be stale (removed, or re-added later): only evict the
		// id if this slot is still its latest record.
		if n, ok := w.ids[old.id]; ok && n == old.n {
			delete(w.ids, old.id)
			evicted = dupKey(w.dest, old.id)
		}
	}
	if persist {
		set = [2][]byte{dupKey(w.dest, id), binary.BigEndian.AppendUint64(nil, w.count)}
	}
	return set, evicted
}

// remove forgets id (its message failed to store). Its ring slot goes
// stale and is skipped at eviction.
func (w *dupWindow) remove(id string) { delete(w.ids, id) }

// restore rebuilds the window from persisted (id, order) pairs. It returns
// the keys of ids beyond the window size, which the caller deletes.
func (w *dupWindow) restore(slots []dupSlot) (excess [][]byte) {
	sort.Slice(slots, func(i, j int) bool { return slots[i].n < slots[j].n })
	if len(slots) > w.size {
		for _, s := range slots[:len(slots)-w.size] {
			excess = append(excess, dupKey(w.dest, s.id))
		}
		slots = slots[len(slots)-w.size:]
	}
	for _, s := range slots {
		w.ids[s.id] = s.n
		w.ring = append(w.ring, s)
		if s.n > w.count {
			w.count = s.n
		}
	}
	return excess
}
