// Package prefetch asks the CPU to start loading memory that will be needed
// soon. wscap's shards touch the state of a different connection with
// almost every packet, out of the cache when there are thousands: looking
// a few packets ahead and prefetching their state overlaps those misses
// with the work on the packets before them.
//
// A hint never faults and never changes what a program computes; on
// architectures without an implementation it does nothing.
package prefetch

// Lines hints that the n cache lines (64 bytes) starting at addr will be
// read or written soon. addr is a plain number: a hint keeps nothing alive.
func Lines(addr uintptr, n int) {
	if n > 0 {
		lines(addr, n)
	}
}
