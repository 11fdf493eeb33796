package prefetch

// lines prefetches n > 0 cache lines from addr into all cache levels.
//
//go:noescape
func lines(addr uintptr, n int)
