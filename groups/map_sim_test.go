package groups

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// simMsg is one message in the simulated broker queue; id is its enqueue
// order, which redelivery restores.
type simMsg struct {
	id    int
	group string
	seq   int
}

// simBroker drives a Map the way the broker's queue dispatcher does, with
// consumers that have a prefetch limit, ack, nack and disappear.
type simBroker struct {
	t        *testing.T
	m        *Map
	pending  []simMsg            // sorted by id
	inFlight map[uint64][]simMsg // per consumer, in delivery order
	order    []uint64            // consumer dispatch order
	nextID   int
	nextCons uint64
	prefetch int
}

func (b *simBroker) addConsumer() {
	b.nextCons++
	b.inFlight[b.nextCons] = nil
	b.order = append(b.order, b.nextCons)
}

func (b *simBroker) requeue(ms ...simMsg) {
	for _, msg := range ms {
		i, _ := slices.BinarySearchFunc(b.pending, msg.id, func(x simMsg, id int) int { return x.id - id })
		b.pending = slices.Insert(b.pending, i, msg)
	}
}

// dispatch makes one pass over the pending messages, in order.
func (b *simBroker) dispatch() {
	kept := b.pending[:0:0]
	for _, msg := range b.pending {
		owner, d := b.m.Route(msg.group, msg.seq)
		switch d {
		case Wait:
			kept = append(kept, msg)
			continue
		case NeedOwner:
			cands := make([]Candidate, len(b.order))
			for i, c := range b.order {
				cands[i] = Candidate{ID: c, Full: len(b.inFlight[c]) >= b.prefetch}
			}
			i := b.m.ChooseOwner(cands)
			if i < 0 {
				kept = append(kept, msg)
				continue
			}
			owner = cands[i].ID
			b.m.Assign(msg.group, owner)
		case ToOwner:
			if len(b.inFlight[owner]) >= b.prefetch {
				kept = append(kept, msg)
				continue
			}
		}
		b.m.Dispatched(msg.group)
		b.inFlight[owner] = append(b.inFlight[owner], msg)
		if msg.seq < 0 {
			b.m.Close(msg.group)
		}
	}
	b.pending = kept
}

// check asserts what Map promises the broker: at no moment do two consumers
// hold unacknowledged messages of one group, and memory stays within
// (groups with messages) + maxIdle.
func (b *simBroker) check() {
	b.t.Helper()
	checkInvariants(b.t, b.m)
	holder := map[string]uint64{}
	busy := map[string]bool{}
	for c, msgs := range b.inFlight {
		for _, msg := range msgs {
			busy[msg.group] = true
			if h, ok := holder[msg.group]; ok && h != c {
				b.t.Fatalf("group %s in flight at consumers %d and %d", msg.group, h, c)
			}
			holder[msg.group] = c
		}
	}
	for _, msg := range b.pending {
		busy[msg.group] = true
	}
	if b.m.Len() > len(busy)+b.m.maxIdle {
		b.t.Fatalf("map holds %d groups; %d have messages, cap %d", b.m.Len(), len(busy), b.m.maxIdle)
	}
	for g := range busy {
		if _, ok := b.m.Lookup(g); !ok {
			b.t.Fatalf("group %s with messages was forgotten", g)
		}
	}
}

func TestMapSimulatedBroker(t *testing.T) {
	for seed := range uint64(10) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			b := &simBroker{t: t, m: NewMap(8), inFlight: map[uint64][]simMsg{}, prefetch: 3}
			for range 3 {
				b.addConsumer()
			}
			for range 2000 {
				b.step(rng)
				b.dispatch()
				b.check()
			}
		})
	}
}

func (b *simBroker) step(rng *rand.Rand) {
	pick := func() (uint64, bool) {
		if len(b.order) == 0 {
			return 0, false
		}
		c := b.order[rng.IntN(len(b.order))]
		return c, len(b.inFlight[c]) > 0
	}
	switch r := rng.IntN(100); {
	case r < 40: // a producer sends
		b.nextID++
		seq := []int{0, 0, 0, 0, 1, -1, 2}[rng.IntN(7)]
		msg := simMsg{id: b.nextID, group: fmt.Sprint("g", rng.IntN(40)), seq: seq}
		b.m.Hold(msg.group)
		b.requeue(msg)
	case r < 75: // a consumer acks one message
		if c, ok := pick(); ok {
			i := rng.IntN(len(b.inFlight[c]))
			b.m.Release(b.inFlight[c][i].group)
			b.inFlight[c] = slices.Delete(b.inFlight[c], i, i+1)
		}
	case r < 82: // a consumer nacks: the message is redelivered
		if c, ok := pick(); ok {
			msg := b.inFlight[c][0]
			b.inFlight[c] = b.inFlight[c][1:]
			b.m.Returned(msg.group)
			b.requeue(msg)
		}
	case r < 86: // a pending message expires
		if len(b.pending) > 0 {
			i := rng.IntN(len(b.pending))
			b.m.Discard(b.pending[i].group)
			b.pending = slices.Delete(b.pending, i, i+1)
		}
	case r < 90: // a consumer goes away
		if c, _ := pick(); c != 0 {
			b.m.RemoveConsumer(c)
			for _, msg := range b.inFlight[c] {
				b.m.Returned(msg.group)
			}
			b.requeue(b.inFlight[c]...)
			delete(b.inFlight, c)
			b.order = slices.DeleteFunc(b.order, func(x uint64) bool { return x == c })
		}
	case r < 95:
		b.addConsumer()
	case r < 97: // an administrator rebalances
		b.m.Reset()
	default: // round robin: the consumer served goes to the back
		if len(b.order) > 1 {
			b.order = append(b.order[1:], b.order[0])
		}
	}
}
