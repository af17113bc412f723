package failover

import "sync/atomic"

// Stats is a snapshot of a Conn's counters.
type Stats struct {
	Connected bool
	URI       string // the broker connected to, "" while disconnected
	// Reconnects counts connections made after a loss or a failback.
	Reconnects uint64
	// Sent counts sends confirmed by the broker (or written, for sends that
	// asked for no confirmation).
	Sent uint64
	// Resent counts sends re-sent after a reconnect.
	Resent uint64
	// Received counts messages handed to the application.
	Received uint64
	// Acked counts acks confirmed by the broker.
	Acked uint64
	// DuplicatesDropped counts redeliveries dropped by the audit.
	DuplicatesDropped uint64
	// PendingSends is the number of sends waiting for a confirmation.
	PendingSends int
	// InDoubtAcks is the number of message ids the audit remembers.
	InDoubtAcks int
	// Standby is the number of ready standby connections (backup=true).
	Standby int
}

type counters struct {
	reconnects, sent, resent, received, acked, duplicates atomic.Uint64
}

// Stats returns the Conn's counters.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	st := Stats{
		Connected:    c.live != nil,
		PendingSends: len(c.sends),
	}
	if c.live != nil {
		st.URI = redact(c.live.uri)
	}
	subs := c.subList()
	c.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		st.InDoubtAcks += s.audit.len()
		s.mu.Unlock()
	}
	st.Reconnects = c.stats.reconnects.Load()
	st.Sent = c.stats.sent.Load()
	st.Resent = c.stats.resent.Load()
	st.Received = c.stats.received.Load()
	st.Acked = c.stats.acked.Load()
	st.DuplicatesDropped = c.stats.duplicates.Load()
	st.Standby = c.standby.len()
	return st
}
