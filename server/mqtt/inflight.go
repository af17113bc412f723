package mqtt

import (
	"sync"

	"github.com/tethermq/tether/server/broker"
)

// inflight tracks outbound QoS 1 and 2 PUBLISHes by packet id until the
// client completes them. The writer allocates ids; the reader completes
// them on PUBACK, PUBREC and PUBCOMP.
type inflight struct {
	mu   sync.Mutex
	m    map[uint16]*outFlight
	next uint16
	max  int
}

// outFlight is one outbound message awaiting the client. c is nil for a
// retained message, which has no broker delivery to acknowledge.
type outFlight struct {
	c        *broker.Consumer
	msgID    string
	qos      byte
	released bool // QoS 2: PUBREC received, PUBREL sent
}

func newInflight(max int) *inflight {
	return &inflight{m: map[uint16]*outFlight{}, max: max}
}

// alloc assigns a free packet id to f; ok is false while max are in use.
func (p *inflight) alloc(f *outFlight) (id uint16, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.m) >= p.max {
		return 0, false
	}
	for {
		p.next++
		if p.next == 0 { // 0 is not a valid packet id
			continue
		}
		if _, used := p.m[p.next]; !used {
			p.m[p.next] = f
			return p.next, true
		}
	}
}

// puback completes a QoS 1 message.
func (p *inflight) puback(id uint16) (*outFlight, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.m[id]
	if f == nil || f.qos != 1 {
		return nil, false
	}
	delete(p.m, id)
	return f, true
}

// pubrec moves a QoS 2 message to its release phase; first is false for a
// repeated PUBREC (whose PUBREL is re-sent, but nothing acked twice).
func (p *inflight) pubrec(id uint16) (f *outFlight, first, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f = p.m[id]
	if f == nil || f.qos != 2 {
		return nil, false, false
	}
	first = !f.released
	f.released = true
	return f, first, true
}

// pubcomp frees the id of a released QoS 2 message.
func (p *inflight) pubcomp(id uint16) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.m[id]
	if f == nil || f.qos != 2 || !f.released {
		return false
	}
	delete(p.m, id)
	return true
}
