package prefetch

// line prefetches the cache line at addr into all cache levels.
//
//go:noescape
func line(addr uintptr)
