package main

import (
	"math"
	"testing"
	"time"
)

func TestHistogramQuantilesWithinOnePercent(t *testing.T) {
	var h histogram
	// 1..100000 µs, uniformly: the q-quantile is q*100000 µs.
	for i := 1; i <= 100000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999} {
		want := q * 100000 * float64(time.Microsecond)
		got := float64(h.quantile(q))
		if math.Abs(got-want)/want > 0.01 {
			t.Errorf("q%.3f = %v, want %v within 1%%", q, time.Duration(got), time.Duration(want))
		}
	}
	if got := h.quantile(1); got != 100*time.Millisecond {
		t.Errorf("max = %v, want exactly 100ms", got)
	}
}

func TestHistogramSmallValuesAndEmpty(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram has a median")
	}
	for _, v := range []time.Duration{3, 3, 3, 7, -5} {
		h.record(v)
	}
	if got := h.quantile(0.5); got != 3 {
		t.Errorf("median %v, want 3ns (values below 128 are exact)", got)
	}
	if got := h.quantile(1); got != 7 {
		t.Errorf("max %v, want 7ns", got)
	}
}

func TestBucketsAreMonotonic(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<22; v += 1 + v/300 {
		b := bucketOf(v)
		if b < prev {
			t.Fatalf("bucketOf(%d) = %d < %d", v, b, prev)
		}
		mid := bucketMid(b)
		if v >= 1<<subBits && math.Abs(float64(mid)-float64(v))/float64(v) > 0.008 {
			t.Fatalf("bucketMid(bucketOf(%d)) = %d: more than 0.8%% off", v, mid)
		}
		prev = b
	}
}
