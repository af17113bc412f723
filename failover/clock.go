package failover

import "time"

// Clock is the time source for the reconnect delays, the priority probes and
// the failover timeout. Tests substitute a fake one to check backoff and pass
// order without sleeping. Handshake deadlines use real time: they bound real
// network I/O.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the engine uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }

// backoffClock adapts Clock to cenkalti/backoff's Clock.
type backoffClock struct{ c Clock }

func (b backoffClock) Now() time.Time { return b.c.Now() }
