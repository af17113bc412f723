package groups

import (
	"fmt"
	"testing"
)

const benchGroups = 100_000

// benchMap returns a Map with benchGroups owned groups spread over 16
// consumers, each with one pending message, and their names.
func benchMap(b *testing.B, maxIdle int) (*Map, []string) {
	b.Helper()
	m := NewMap(maxIdle)
	names := make([]string, benchGroups)
	for i := range names {
		names[i] = fmt.Sprintf("order-%06d", i)
		m.Assign(names[i], uint64(i%16))
		m.Hold(names[i])
	}
	return m, names
}

func BenchmarkMapOwner(b *testing.B) {
	m, names := benchMap(b, 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := m.Owner(names[i%benchGroups]); !ok {
			b.Fatal("lost a group")
		}
		i++
	}
}

func BenchmarkMapRoute(b *testing.B) {
	m, names := benchMap(b, 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, d := m.Route(names[i%benchGroups], 0); d != ToOwner {
			b.Fatal(d)
		}
		i++
	}
}

// BenchmarkMapHoldRelease is one message's life in a busy group: it never
// becomes idle.
func BenchmarkMapHoldRelease(b *testing.B) {
	m, names := benchMap(b, 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		g := names[i%benchGroups]
		m.Hold(g)
		m.Dispatched(g)
		m.Release(g)
		i++
	}
}

// BenchmarkMapHoldReleaseIdle is one message's life in a group that is idle
// before and after it, so the group leaves and re-enters the idle LRU.
func BenchmarkMapHoldReleaseIdle(b *testing.B) {
	m, names := benchMap(b, benchGroups)
	for _, g := range names {
		m.Discard(g)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		g := names[i%benchGroups]
		m.Hold(g)
		m.Dispatched(g)
		m.Release(g)
		i++
	}
}
