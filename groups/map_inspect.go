package groups

import "iter"

// GroupInfo describes one group, for the admin API.
type GroupInfo struct {
	Owner    uint64 // meaningful only when Owned
	Owned    bool
	Draining bool // owner will be dropped once InFlight reaches 0 (Close, Reset)
	Pending  int  // messages in the queue, not yet dispatched
	InFlight int  // messages dispatched, not yet acknowledged
}

func (e *entry) info() GroupInfo {
	return GroupInfo{
		Owner:    e.owner,
		Owned:    e.owned,
		Draining: e.draining,
		Pending:  e.pending,
		InFlight: e.inFlight,
	}
}

// Lookup returns what the Map knows about group.
func (m *Map) Lookup(group string) (GroupInfo, bool) {
	e := m.groups[group]
	if e == nil {
		return GroupInfo{}, false
	}
	return e.info(), true
}

// All yields every tracked group in no particular order. The Map must not be
// changed while the iteration runs.
func (m *Map) All() iter.Seq2[string, GroupInfo] {
	return func(yield func(string, GroupInfo) bool) {
		for name, e := range m.groups {
			if !yield(name, e.info()) {
				return
			}
		}
	}
}
