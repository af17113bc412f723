package mqtt

import (
	"errors"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

func puback(id uint16) packets.ControlPacket {
	return &packets.PubackPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Puback}, MessageID: id}
}

func queued(o *outbox) []uint16 {
	var ids []uint16
	for _, it := range o.take(nil) {
		ids = append(ids, it.pkt.Details().MessageID)
	}
	return ids
}

func TestAckQueueKeepsArrivalOrder(t *testing.T) {
	out := newOutbox()
	q := newAckQueue(out, func(err error) { t.Fatalf("unexpected failure %v", err) })
	s1, s2, s3 := q.reserve(), q.reserve(), q.reserve()
	q.complete(s3, puback(3), nil)
	q.complete(s2, puback(2), nil)
	if got := queued(out); len(got) != 0 {
		t.Fatalf("released %v before the head completed", got)
	}
	q.complete(s1, puback(1), nil)
	q.send(outItem{pkt: puback(4)})
	if got := queued(out); len(got) != 4 || got[0] != 1 || got[1] != 2 || got[2] != 3 || got[3] != 4 {
		t.Fatalf("released %v, want [1 2 3 4]", got)
	}
}

func TestAckQueueStopsAtFailure(t *testing.T) {
	out := newOutbox()
	var failed error
	q := newAckQueue(out, func(err error) { failed = err })
	s1, s2, s3 := q.reserve(), q.reserve(), q.reserve()
	q.complete(s1, puback(1), nil)
	q.complete(s3, puback(3), nil)
	boom := errors.New("store failed")
	q.complete(s2, puback(2), boom)
	if !errors.Is(failed, boom) {
		t.Fatalf("onFail got %v", failed)
	}
	if got := queued(out); len(got) != 1 || got[0] != 1 {
		t.Fatalf("released %v, want only [1]: nothing at or after a failure", got)
	}
}

func TestJoinReportsFirstErrorOnce(t *testing.T) {
	calls := 0
	var got error
	boom := errors.New("boom")
	done := join(3, func(err error) { calls++; got = err })
	done(nil)
	done(boom)
	if calls != 0 {
		t.Fatal("called before all reported")
	}
	done(errors.New("later"))
	if calls != 1 || !errors.Is(got, boom) {
		t.Fatalf("calls=%d err=%v", calls, got)
	}
}
