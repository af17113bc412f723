package mqtt

import (
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/server/internal/broker"
)

// TestInflightAcrossConnections exercises the session's in-flight table
// directly: ids kept for redeliveries, re-sends in write order, eviction
// of redeliveries that never come, and the acknowledgement checks.
func TestInflightAcrossConnections(t *testing.T) {
	a, b := &conn{}, &conn{}
	cons := &broker.Consumer{}
	p := newInflight(3)
	d1, dup, ok := p.alloc(&outFlight{owner: a, c: cons, msgID: "m1", filter: "f", qos: 1})
	if !ok || dup {
		t.Fatal("first alloc")
	}
	d2, _, _ := p.alloc(&outFlight{owner: a, c: cons, msgID: "m2", filter: "f", qos: 2})
	ret := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	ret.Qos, ret.TopicName, ret.Retain = 1, "r", true
	r3, _, _ := p.alloc(&outFlight{owner: a, qos: 1, pub: ret})
	if ret.MessageID != r3 {
		t.Fatalf("retained packet numbered %d, id %d", ret.MessageID, r3)
	}
	if _, _, ok := p.alloc(&outFlight{owner: a, c: cons, msgID: "m4", filter: "f", qos: 1}); ok {
		t.Fatal("alloc beyond max with nothing evictable")
	}
	if _, first, res := p.pubrec(d2); res != ackOK || !first {
		t.Fatalf("pubrec: %v %v", first, res)
	}

	// Connection b takes over: the PUBREL and the retained PUBLISH are
	// re-sent in write order; m1 awaits its redelivery.
	items := p.resume(b)
	if len(items) != 2 {
		t.Fatalf("resume re-sends %d items, want 2", len(items))
	}
	if rel, ok := items[0].pkt.(*packets.PubrelPacket); !ok || rel.MessageID != d2 {
		t.Fatalf("first re-send %v, want PUBREL %d", items[0].pkt, d2)
	}
	if pub, ok := items[1].pkt.(*packets.PublishPacket); !ok || pub.MessageID != r3 || !pub.Dup || !pub.Retain {
		t.Fatalf("second re-send %v, want the retained PUBLISH %d with DUP", items[1].pkt, r3)
	}
	if ids := p.releasedIDs(); len(ids) != 1 || ids[0] != d2 {
		t.Fatalf("released ids %v", ids)
	}
	if again, dup, ok := p.alloc(&outFlight{owner: b, c: cons, msgID: "m1", filter: "f", qos: 1}); !ok || !dup || again != d1 {
		t.Fatalf("redelivery of m1 got id %d dup=%v, want %d", again, dup, d1)
	}
	// Acknowledgement checks.
	if _, res := p.puback(d2); res != ackWrong {
		t.Fatal("PUBACK for a QoS 2 id accepted")
	}
	if _, _, res := p.pubrec(d1); res != ackWrong {
		t.Fatal("PUBREC for a QoS 1 id accepted")
	}
	if res := p.pubcomp(d1); res != ackWrong {
		t.Fatal("PUBCOMP for a QoS 1 id accepted")
	}
	if _, res := p.puback(999); res != ackUnknown {
		t.Fatal("unknown id not reported as such")
	}
	if ack, res := p.puback(d1); res != ackOK || ack.c != cons || ack.msgID != "m1" {
		t.Fatalf("puback: %+v %v", ack, res)
	}
	if p.pubcomp(d2) != ackOK || p.pubcomp(d2) != ackUnknown {
		t.Fatal("pubcomp")
	}

	// A redelivery that never comes gives its id up when one is needed.
	c := &conn{}
	p.alloc(&outFlight{owner: b, c: cons, msgID: "m5", filter: "f", qos: 1})
	p.alloc(&outFlight{owner: b, c: cons, msgID: "m6", filter: "f", qos: 1})
	p.resume(c) // m5, m6 await; the retained one is re-sent again
	if p.size() != 3 {
		t.Fatalf("size %d", p.size())
	}
	if _, dup, ok := p.alloc(&outFlight{owner: c, c: cons, msgID: "m7", filter: "f", qos: 1}); !ok || dup {
		t.Fatal("an awaiting entry was not evicted for a new message")
	}
	if p.size() != 3 {
		t.Fatalf("size %d after eviction", p.size())
	}

	// After a broker restart only the released ids are known.
	q := newInflight(10)
	q.restoreReleased([]uint16{7, 9})
	items = q.resume(a)
	if len(items) != 2 || items[0].pkt.Details().MessageID != 7 || items[1].pkt.Details().MessageID != 9 {
		t.Fatalf("restored re-sends %v", items)
	}
	if q.pubcomp(7) != ackOK {
		t.Fatal("PUBCOMP of a restored id")
	}
}

func TestRecordKeepsReleasedIDs(t *testing.T) {
	subs := map[string]byte{"a/#": 2, "b": 0}
	recs, ids, err := decodeRecord(encodeRecord(subs, []uint16{3, 65535}))
	if err != nil || len(recs) != 2 || len(ids) != 2 || ids[0] != 3 || ids[1] != 65535 {
		t.Fatalf("%v %v %v", recs, ids, err)
	}
	// A version 1 record (no ids) still reads.
	v1 := []byte{1, 1, 1, 'x', 1}
	if recs, ids, err := decodeRecord(v1); err != nil || len(recs) != 1 || recs[0].filter != "x" || ids != nil {
		t.Fatalf("v1: %v %v %v", recs, ids, err)
	}
	for _, bad := range [][]byte{{2, 0, 1, 0}, {2, 0, 1, 0, 0}, {2, 0, 2, 0, 1}} {
		if _, _, err := decodeRecord(bad); err == nil {
			t.Errorf("decodeRecord(% x) accepted", bad)
		}
	}
}
