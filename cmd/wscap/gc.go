package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// tuneGC sets the garbage collector's target to percent, but keeps each
// collection at least floor bytes of new allocation after the last: a run
// starts with almost nothing live, and a plain percentage would collect at
// 4, 7, 13, 20, 30, 44 MB... on the way up to what the open connections
// hold, each collection marking all that is live. Once the live heap is
// past floor*100/percent, this is GOGC=percent.
//
// After each collection a finalizer (on the runtime's finalizer goroutine)
// reads the live heap and sets the percentage for the next one. stop ends
// the tuning; the percentage is then whatever was set last.
func tuneGC(percent int, floor uint64) (stop func()) {
	var (
		mu      sync.Mutex
		stopped bool
		samples = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		arm     func()
	)
	arm = func() {
		sentinel := new([16]byte)
		runtime.SetFinalizer(sentinel, func(*[16]byte) {
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return
			}
			metrics.Read(samples)
			debug.SetGCPercent(nextGCPercent(percent, floor, samples[0].Value.Uint64()))
			arm()
		})
	}
	debug.SetGCPercent(nextGCPercent(percent, floor, 0))
	arm()
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
	}
}

// nextGCPercent is the GOGC that makes the next collection come after
// max(percent % of live, floor) bytes of allocation.
func nextGCPercent(percent int, floor, live uint64) int {
	if live == 0 {
		live = 4 << 20 // the runtime's minimum heap target is 4 MB x GOGC/100
	}
	if uint64(percent)*live/100 < floor {
		return int(floor * 100 / live)
	}
	return percent
}
