package groups

// Candidate is a consumer the broker could give a group to, in the broker's
// current dispatch order.
type Candidate struct {
	ID       uint64
	Priority int  // consumer priority; higher wins
	Full     bool // at its prefetch limit: cannot take a message now
}

// ChooseOwner picks the consumer that should own a group that needs one, in
// ActiveMQ's order: highest priority first, then the fewest groups owned
// (Count), skipping full consumers; among equals the earliest candidate wins,
// so the broker's round-robin order breaks ties. It returns the index in
// candidates, or -1 when every candidate is full (the message then waits
// while other groups proceed).
func (m *Map) ChooseOwner(candidates []Candidate) int {
	best, bestCount := -1, 0
	for i, c := range candidates {
		if c.Full {
			continue
		}
		if best >= 0 && c.Priority < candidates[best].Priority {
			continue
		}
		n := m.Count(c.ID)
		if best >= 0 && c.Priority == candidates[best].Priority && n >= bestCount {
			continue
		}
		best, bestCount = i, n
	}
	return best
}
