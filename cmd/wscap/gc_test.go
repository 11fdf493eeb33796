package main

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestNextGCPercent: the next collection comes after the larger of percent of
// the live heap and the floor.
func TestNextGCPercent(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 600},           // start: 4 MB x 600 % = the 24 MB floor
		{4 * mb, 600},      // 24 MB more
		{16 * mb, 150},     // 24 MB more
		{39 * mb, 61},      // 24 MB more (60 % would be 23.4)
		{40 * mb, 60},      // 60 % is 24 MB
		{1000 * mb, 60},    // 60 %
		{3 * mb / 2, 1600}, // tiny heaps still wait for the floor
	} {
		if got := nextGCPercent(60, 24*mb, c.live); got != c.want {
			t.Errorf("live %d MB: GOGC %d, want %d", c.live/mb, got, c.want)
		}
	}
}

// TestTuneGC: after a collection, the finalizer has set the percentage
// for the next one (and re-armed itself for the one after).
func TestTuneGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	stop := tuneGC(70, 1<<40) // a floor no heap reaches: the percentage stays huge
	defer stop()
	for range 2 {
		debug.SetGCPercent(100)
		deadline := time.Now().Add(5 * time.Second)
		for {
			runtime.GC()
			p := debug.SetGCPercent(100)
			debug.SetGCPercent(p)
			if p > 1000 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GOGC %d after a collection, want the floor's", p)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
