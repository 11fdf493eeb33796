package prefetch

// lines prefetches n > 0 cache lines from addr for a load, into L1.
//
//go:noescape
func lines(addr uintptr, n int)
