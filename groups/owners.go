package groups

import "sort"

// Ownership is one group's state, for an operator's view of a queue.
type Ownership struct {
	Group    string `json:"group"`
	Owner    uint64 `json:"owner,omitempty"` // consumer id; 0 with Owned false
	Owned    bool   `json:"owned"`
	Draining bool   `json:"draining,omitempty"` // closing or reset: waits for its in-flight messages
	Pending  int    `json:"pending"`
	InFlight int    `json:"inFlight"`
}

// Owners lists up to limit groups (all when limit <= 0), sorted by name,
// so that a queue with a million groups still costs a bounded answer.
func (m *Map) Owners(limit int) []Ownership {
	names := make([]string, 0, len(m.groups))
	for n := range m.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	if limit > 0 && len(names) > limit {
		names = names[:limit]
	}
	out := make([]Ownership, 0, len(names))
	for _, n := range names {
		e := m.groups[n]
		out = append(out, Ownership{Group: n, Owner: e.owner, Owned: e.owned, Draining: e.draining, Pending: e.pending, InFlight: e.inFlight})
	}
	return out
}
