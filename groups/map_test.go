package groups

import (
	"fmt"
	"slices"
	"testing"
)

// checkInvariants verifies the invariants written at the top of map.go,
// walking every list both ways.
func checkInvariants(t *testing.T, m *Map) {
	t.Helper()
	for name, e := range m.groups {
		held := e.pending + e.inFlight
		if name != e.name {
			t.Fatalf("entry %q stored under %q", e.name, name)
		}
		if e.pending < 0 || e.inFlight < 0 {
			t.Fatalf("group %q has negative counts %+v", name, e.info())
		}
		if !e.owned && held == 0 {
			t.Fatalf("group %q kept without owner or messages", name)
		}
		if idle := e.owned && held == 0; idle != m.idle.contains(e) {
			t.Fatalf("group %q: idle=%v but in idle list=%v", name, idle, m.idle.contains(e))
		}
		if e.draining && (!e.owned || e.inFlight == 0) {
			t.Fatalf("group %q draining with %+v", name, e.info())
		}
		if e.owned && !m.consumers[e.owner].contains(e) {
			t.Fatalf("group %q not in its owner %d's list", name, e.owner)
		}
	}
	if m.idle.len() > m.maxIdle {
		t.Fatalf("idle %d > cap %d", m.idle.len(), m.maxIdle)
	}
	checkList(t, &m.idle, func(e *entry) {
		if m.groups[e.name] != e {
			t.Fatalf("idle list holds forgotten group %q", e.name)
		}
	})
	for c, l := range m.consumers {
		if l.len() == 0 {
			t.Fatalf("consumer %d kept with no groups", c)
		}
		checkList(t, l, func(e *entry) {
			if m.groups[e.name] != e || !e.owned || e.owner != c {
				t.Fatalf("consumer %d's list holds group %q owned by %d (owned=%v)", c, e.name, e.owner, e.owned)
			}
		})
	}
}

func checkList(t *testing.T, l *dlist[entry], each func(*entry)) {
	t.Helper()
	var forward []*entry
	for e := l.front(); e != nil; e = l.next(e) {
		forward = append(forward, e)
		each(e)
	}
	var backward []*entry
	for e := l.back(); e != nil; e = l.at(e).prev {
		backward = append(backward, e)
	}
	slices.Reverse(backward)
	if len(forward) != l.len() || !slices.Equal(forward, backward) {
		t.Fatalf("list corrupt: len %d, forward %d, backward %d", l.len(), len(forward), len(backward))
	}
}

func wantRoute(t *testing.T, m *Map, group string, seq int, owner uint64, d Decision) {
	t.Helper()
	gotOwner, gotD := m.Route(group, seq)
	if gotD != d || (d == ToOwner && gotOwner != owner) {
		t.Fatalf("Route(%q, %d) = %d, %v; want %d, %v", group, seq, gotOwner, gotD, owner, d)
	}
}

// deliver runs one message of group through Hold, Route/Assign and
// Dispatched, giving a new group to consumer.
func deliver(t *testing.T, m *Map, group string, consumer uint64) {
	t.Helper()
	m.Hold(group)
	if _, d := m.Route(group, 0); d == NeedOwner {
		m.Assign(group, consumer)
	}
	m.Dispatched(group)
	checkInvariants(t, m)
}

func TestMapAssignOwnerCount(t *testing.T) {
	m := NewMap(0)
	if m.maxIdle != DefaultMaxIdle {
		t.Fatalf("default cap %d", m.maxIdle)
	}
	wantRoute(t, m, "a", 0, 0, NeedOwner)
	if !m.Assign("a", 1) || m.Assign("a", 1) {
		t.Fatal("Assign should report a new owner once")
	}
	m.Assign("b", 1)
	m.Assign("c", 2)
	checkInvariants(t, m)
	if o, ok := m.Owner("a"); !ok || o != 1 {
		t.Fatalf("Owner(a) = %d, %v", o, ok)
	}
	if _, ok := m.Owner("zzz"); ok {
		t.Fatal("unknown group has an owner")
	}
	if m.Count(1) != 2 || m.Count(2) != 1 || m.Count(3) != 0 {
		t.Fatalf("counts %d %d %d", m.Count(1), m.Count(2), m.Count(3))
	}
	wantRoute(t, m, "a", 0, 1, ToOwner)
	wantRoute(t, m, "a", 5, 1, ToOwner)
	if !m.Assign("a", 2) {
		t.Fatal("moving a group should report a new owner")
	}
	checkInvariants(t, m)
	if m.Count(1) != 1 || m.Count(2) != 2 || m.Len() != 3 {
		t.Fatalf("after move: counts %d %d, len %d", m.Count(1), m.Count(2), m.Len())
	}
}

func TestMapSeqOneReassignsOnlyQuietGroups(t *testing.T) {
	m := NewMap(0)
	deliver(t, m, "g", 1) // one message in flight at consumer 1
	m.Hold("g")
	// A seq 1 message while the group is busy is an ordinary message.
	wantRoute(t, m, "g", 1, 1, ToOwner)
	m.Dispatched("g")
	m.Release("g")
	m.Release("g")
	checkInvariants(t, m)
	// Nothing in flight now: seq 1 starts the group afresh.
	m.Hold("g")
	wantRoute(t, m, "g", 1, 0, NeedOwner)
	wantRoute(t, m, "g", 0, 1, ToOwner)
	// Pending messages alone do not count as in flight.
	m.Hold("g")
	wantRoute(t, m, "g", 1, 0, NeedOwner)
}

func TestMapCloseDrainsBeforeDroppingOwner(t *testing.T) {
	m := NewMap(0)
	deliver(t, m, "g", 1)
	m.Close("g") // the closing message is in flight
	checkInvariants(t, m)
	if info, _ := m.Lookup("g"); !info.Draining || !info.Owned {
		t.Fatalf("after Close: %+v", info)
	}
	m.Hold("g")
	wantRoute(t, m, "g", 0, 0, Wait)
	m.Release("g") // the closing message is acknowledged
	checkInvariants(t, m)
	if _, ok := m.Owner("g"); ok {
		t.Fatal("closed group still owned")
	}
	if m.Count(1) != 0 {
		t.Fatalf("consumer still counts %d groups", m.Count(1))
	}
	wantRoute(t, m, "g", 0, 0, NeedOwner)

	// Closing a group with nothing in flight drops it at once; an idle,
	// ownerless group is not kept at all.
	m.Assign("h", 2)
	m.Close("h")
	checkInvariants(t, m)
	if _, ok := m.Lookup("h"); ok {
		t.Fatal("closed idle group still tracked")
	}
	m.Close("unknown") // no-op
	checkInvariants(t, m)
}

func TestMapReturnedFinishesDrain(t *testing.T) {
	m := NewMap(0)
	deliver(t, m, "g", 1)
	m.Close("g")
	m.Returned("g") // nacked: the closing message goes back
	checkInvariants(t, m)
	if info, _ := m.Lookup("g"); info.Owned || info.Pending != 1 || info.InFlight != 0 {
		t.Fatalf("after Returned: %+v", info)
	}
	wantRoute(t, m, "g", -1, 0, NeedOwner)
}

func TestMapForgetsOnlyIdleGroupsLRU(t *testing.T) {
	m := NewMap(3)
	// Ten busy groups: more than the idle cap, none may be forgotten.
	for i := range 10 {
		deliver(t, m, fmt.Sprint("busy", i), uint64(i%2+1))
	}
	if m.Len() != 10 || m.IdleLen() != 0 {
		t.Fatalf("len %d idle %d", m.Len(), m.IdleLen())
	}
	// Five groups go idle in order 0..4: the two oldest are forgotten.
	for i := range 5 {
		g := fmt.Sprint("idle", i)
		deliver(t, m, g, 3)
		m.Release(g)
		checkInvariants(t, m)
	}
	if m.IdleLen() != 3 || m.Len() != 13 || m.Count(3) != 3 {
		t.Fatalf("idle %d len %d count %d", m.IdleLen(), m.Len(), m.Count(3))
	}
	for i, want := range []bool{false, false, true, true, true} {
		if _, ok := m.Owner(fmt.Sprint("idle", i)); ok != want {
			t.Fatalf("idle%d remembered=%v, want %v", i, ok, want)
		}
	}
	// A remembered idle group that gets a message is busy again and keeps
	// its owner.
	m.Hold("idle2")
	wantRoute(t, m, "idle2", 0, 3, ToOwner)
	checkInvariants(t, m)
	if m.IdleLen() != 2 {
		t.Fatalf("idle %d", m.IdleLen())
	}
	// Pending messages count too: a group whose messages are only queued
	// is not idle.
	m.Assign("queued", 4)
	m.Hold("queued")
	for i := range 5 {
		g := fmt.Sprint("later", i)
		m.Assign(g, 4)
	}
	checkInvariants(t, m)
	if o, ok := m.Owner("queued"); !ok || o != 4 {
		t.Fatal("group with a pending message was forgotten")
	}
	m.Discard("queued")
	checkInvariants(t, m)
}

func TestMapRemoveConsumer(t *testing.T) {
	m := NewMap(0)
	deliver(t, m, "a", 1)
	deliver(t, m, "b", 1)
	deliver(t, m, "c", 2)
	m.Assign("idle", 1)
	got := m.RemoveConsumer(1)
	slices.Sort(got)
	if !slices.Equal(got, []string{"a", "b", "idle"}) {
		t.Fatalf("RemoveConsumer = %v", got)
	}
	checkInvariants(t, m)
	if m.Count(1) != 0 || m.RemoveConsumer(1) != nil {
		t.Fatal("consumer 1 still owns groups")
	}
	if _, ok := m.Lookup("idle"); ok {
		t.Fatal("ownerless idle group kept")
	}
	// The broker returns the consumer's unacknowledged messages; the next
	// message of each group picks a new owner.
	m.Returned("a")
	m.Returned("b")
	checkInvariants(t, m)
	wantRoute(t, m, "a", 0, 0, NeedOwner)
	wantRoute(t, m, "c", 0, 2, ToOwner)
}

func TestMapResetRebalancesWithoutBreakingOrder(t *testing.T) {
	m := NewMap(0)
	deliver(t, m, "busy", 1)
	m.Hold("busy")
	m.Hold("queued")
	m.Assign("queued", 2)
	m.Assign("idle", 2)
	m.Reset()
	checkInvariants(t, m)
	wantRoute(t, m, "busy", 0, 0, Wait)
	wantRoute(t, m, "queued", 0, 0, NeedOwner)
	if _, ok := m.Lookup("idle"); ok || m.Count(2) != 0 || m.Count(1) != 1 {
		t.Fatal("idle group or counts survived Reset")
	}
	m.Release("busy")
	checkInvariants(t, m)
	wantRoute(t, m, "busy", 0, 0, NeedOwner)
	if m.Count(1) != 0 || m.Len() != 2 {
		t.Fatalf("count %d len %d", m.Count(1), m.Len())
	}
}

func TestMapLookupAndAll(t *testing.T) {
	m := NewMap(0)
	deliver(t, m, "a", 7)
	m.Hold("a")
	m.Hold("b")
	info, ok := m.Lookup("a")
	if want := (GroupInfo{Owner: 7, Owned: true, Pending: 1, InFlight: 1}); !ok || info != want {
		t.Fatalf("Lookup(a) = %+v, %v", info, ok)
	}
	seen := map[string]GroupInfo{}
	for name, gi := range m.All() {
		seen[name] = gi
	}
	if len(seen) != 2 || seen["b"] != (GroupInfo{Pending: 1}) {
		t.Fatalf("All = %v", seen)
	}
	for range m.All() {
		break // stopping early must not panic
	}
}

func TestMapMisusePanics(t *testing.T) {
	for name, op := range map[string]func(*Map){
		"Dispatched unknown":    func(m *Map) { m.Dispatched("x") },
		"Release unknown":       func(m *Map) { m.Release("x") },
		"Returned not inflight": func(m *Map) { m.Hold("x"); m.Returned("x") },
		"Release not inflight":  func(m *Map) { m.Hold("x"); m.Release("x") },
		"Discard not pending":   func(m *Map) { m.Hold("x"); m.Dispatched("x"); m.Discard("x") },
		"Dispatched twice":      func(m *Map) { m.Hold("x"); m.Dispatched("x"); m.Dispatched("x") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			op(NewMap(0))
		})
	}
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[Decision]string{ToOwner: "ToOwner", NeedOwner: "NeedOwner", Wait: "Wait", 9: "Decision(?)"} {
		if d.String() != want {
			t.Fatalf("%d: %q", int(d), d.String())
		}
	}
}

func TestMapLookupsDoNotAllocate(t *testing.T) {
	m := NewMap(0)
	deliver(t, m, "g", 1)
	m.Release("g") // idle, so the cycle below moves it out of and back into the idle list
	allocs := testing.AllocsPerRun(1000, func() {
		m.Owner("g")
		m.Route("g", 1)
		m.Hold("g")
		m.Dispatched("g")
		m.Returned("g")
		m.Dispatched("g")
		m.Release("g")
		m.Hold("g")
		m.Discard("g")
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per cycle on an existing group", allocs)
	}
}
