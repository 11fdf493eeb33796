package prefetch

// line prefetches the cache line at addr for a load, into L1.
//
//go:noescape
func line(addr uintptr)
