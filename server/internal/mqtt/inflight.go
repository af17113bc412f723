package mqtt

import (
	"sort"
	"sync"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/server/internal/broker"
)

// inflight tracks outbound QoS 1 and 2 PUBLISHes by packet id until the
// client completes them. It belongs to the session (clientState), not to a
// connection: MQTT-4.4.0-1 wants a reconnecting persistent session to get
// its unacknowledged PUBLISHes and PUBRELs again under their original
// packet ids. The writer allocates ids; the reader completes them on
// PUBACK, PUBREC and PUBCOMP.
//
// Across a reconnect an entry is one of:
//   - released (PUBREC received): its PUBREL is re-sent at once;
//   - a retained message (no broker delivery): its PUBLISH is re-sent as is;
//   - a broker delivery: the broker takes it back when the old connection's
//     session closes and redelivers it to the new one; the entry waits
//     ("awaiting") for that redelivery, which then reuses its packet id.
//     An awaiting entry the broker never redelivers (its subscription was
//     dropped meanwhile) is evicted when its id is needed.
type inflight struct {
	mu       sync.Mutex
	m        map[uint16]*outFlight
	awaiting map[flightKey]uint16 // redeliveries expected from the broker
	next     uint16
	seq      uint64
	max      int
}

// flightKey names one broker delivery across connections: the same message
// may reach a session through two overlapping filters.
type flightKey struct{ filter, msgID string }

// outFlight is one outbound message awaiting the client.
type outFlight struct {
	owner  *conn            // the connection that wrote it
	c      *broker.Consumer // nil for a retained message or once awaiting
	msgID  string
	filter string
	qos    byte
	// released: QoS 2 PUBREC received, PUBREL sent.
	released bool
	// pub is a retained message's PUBLISH, re-sent after a reconnect.
	pub *packets.PublishPacket
	// awaiting: written by an earlier connection; the broker will redeliver.
	awaiting bool
	seq      uint64 // write order, for re-sending in order (MQTT 4.6)
}

// ackResult is what an acknowledgement from the client matched.
type ackResult int

const (
	ackOK      ackResult = iota
	ackUnknown           // no such packet id: late or duplicate, ignored
	ackWrong             // the id is in flight under another QoS or phase: a protocol violation
)

func newInflight(max int) *inflight {
	return &inflight{m: map[uint16]*outFlight{}, awaiting: map[flightKey]uint16{}, max: max}
}

// alloc assigns a packet id to f: the one its earlier copy had when f is
// the broker's redelivery of a message an earlier connection wrote, a free
// one otherwise. ok is false while every id is in use; dup reports a reused
// id.
func (p *inflight) alloc(f *outFlight) (id uint16, dup, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	f.seq = p.seq
	if f.c != nil {
		k := flightKey{f.filter, f.msgID}
		if id, found := p.awaiting[k]; found {
			delete(p.awaiting, k)
			p.m[id] = f
			return id, true, true
		}
	}
	if len(p.m) >= p.max && !p.evictAwaitingLocked() {
		return 0, false, false
	}
	for {
		p.next++
		if p.next == 0 { // 0 is not a valid packet id
			continue
		}
		if _, used := p.m[p.next]; !used {
			p.m[p.next] = f
			if f.pub != nil {
				f.pub.MessageID = p.next
			}
			return p.next, false, true
		}
	}
}

// evictAwaitingLocked frees one awaiting entry's id, if there is one.
func (p *inflight) evictAwaitingLocked() bool {
	for k, id := range p.awaiting {
		delete(p.awaiting, k)
		delete(p.m, id)
		return true
	}
	return false
}

// lookup classifies an acknowledgement of id that expects an entry of qos
// (in the released phase or not, for QoS 2).
func (p *inflight) lookupLocked(id uint16, qos byte, released bool) (*outFlight, ackResult) {
	f := p.m[id]
	switch {
	case f == nil:
		return nil, ackUnknown
	case f.qos != qos:
		return nil, ackWrong
	case qos == 2 && released && !f.released:
		return nil, ackWrong // PUBCOMP before PUBREC
	}
	return f, ackOK
}

func (p *inflight) deleteLocked(id uint16, f *outFlight) {
	delete(p.m, id)
	if f.awaiting {
		delete(p.awaiting, flightKey{f.filter, f.msgID})
	}
}

// brokerAck is what acknowledging an outbound message tells the broker;
// c is nil when there is nothing to tell (a retained message, or one
// whose connection is gone). It is copied out under the lock because a
// take-over's resume may change the entry meanwhile.
type brokerAck struct {
	c     *broker.Consumer
	msgID string
}

func (a brokerAck) send() {
	if a.c != nil {
		a.c.Ack(a.msgID, "", false, nil)
	}
}

// puback completes a QoS 1 message.
func (p *inflight) puback(id uint16) (brokerAck, ackResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, res := p.lookupLocked(id, 1, false)
	if res != ackOK {
		return brokerAck{}, res
	}
	p.deleteLocked(id, f)
	return brokerAck{f.c, f.msgID}, ackOK
}

// pubrec moves a QoS 2 message to its release phase; first is false for a
// repeated PUBREC (whose PUBREL is re-sent, but nothing acked twice).
func (p *inflight) pubrec(id uint16) (a brokerAck, first bool, res ackResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, res := p.lookupLocked(id, 2, false)
	if res != ackOK {
		return brokerAck{}, false, res
	}
	a = brokerAck{f.c, f.msgID}
	first = !f.released
	f.released = true
	if f.awaiting {
		// Acknowledged before the broker redelivered it: the redelivery
		// must not take this id any more.
		delete(p.awaiting, flightKey{f.filter, f.msgID})
		f.awaiting = false
	}
	return a, first, ackOK
}

// pubcomp frees the id of a released QoS 2 message.
func (p *inflight) pubcomp(id uint16) ackResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, res := p.lookupLocked(id, 2, true)
	if res == ackOK {
		p.deleteLocked(id, f)
	}
	return res
}

// resume hands the session's in-flight state to connection c: what it
// must re-send at once (PUBRELs and retained PUBLISHes, in their original
// order), with every broker delivery of earlier connections left awaiting
// its redelivery.
func (p *inflight) resume(c *conn) []outItem {
	p.mu.Lock()
	defer p.mu.Unlock()
	type resend struct {
		seq  uint64
		item outItem
	}
	var rs []resend
	for id, f := range p.m {
		if f.owner == c {
			continue
		}
		f.owner = c
		switch {
		case f.released:
			rs = append(rs, resend{f.seq, outItem{pkt: pubrelPacket(id)}})
		case f.pub != nil:
			pub := *f.pub
			pub.Dup = true
			rs = append(rs, resend{f.seq, outItem{pkt: &pub}})
		case f.c != nil || f.awaiting:
			f.c, f.awaiting = nil, true
			p.awaiting[flightKey{f.filter, f.msgID}] = id
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].seq < rs[j].seq })
	items := make([]outItem, len(rs))
	for i, r := range rs {
		items[i] = r.item
	}
	return items
}

// releasedIDs lists the QoS 2 ids awaiting PUBCOMP, which a persistent
// session's record keeps so that their PUBRELs survive a broker restart.
func (p *inflight) releasedIDs() []uint16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []uint16
	for id, f := range p.m {
		if f.released {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// restoreReleased recreates, after a broker restart, the released ids a
// session record kept; resume then re-sends their PUBRELs.
func (p *inflight) restoreReleased(ids []uint16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		if _, used := p.m[id]; !used {
			p.seq++
			p.m[id] = &outFlight{qos: 2, released: true, seq: p.seq}
		}
	}
}

// size is the number of ids in use.
func (p *inflight) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m)
}

func pubrelPacket(id uint16) *packets.PubrelPacket {
	return &packets.PubrelPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Pubrel, Qos: 1}, MessageID: id}
}
