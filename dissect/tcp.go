package dissect

// Events about the TCP stream itself, reported by reassembly.

// Overlap tells the connection that the packet at p carried n bytes of
// direction dir (as the caller of NewConn sees it) that were sent before
// with different content: a retransmission or an overlapping segment that
// disagrees with the first copy, which reassembly kept. It is reported as
// CodeOverlapConflict on WebSocket connections.
func (c *Conn) Overlap(dir Direction, p Pos, n int64) {
	if c.ended || n <= 0 || !c.known {
		return
	}
	dir = c.mapDir(dir)
	c.d.finding(&c.Session, p, CodeOverlapConflict, dir, "%d bytes retransmitted by the %s differ from the first copy, which is kept (possible evasion: the receiver may have used either)", n, dir)
}

// BufferCapped tells the connection that reassembly gave up on n bytes of
// direction dir because buffering more out-of-order data would exceed
// limit bytes (per connection, or over all connections when total): the
// bytes missing before the data buffered, or the new segment too when
// there is still no room. A Gap for those n bytes follows. It is reported
// as CodeBufferCapped on WebSocket connections.
func (c *Conn) BufferCapped(dir Direction, p Pos, n, limit int64, total bool) {
	if c.ended || n <= 0 || !c.known {
		return
	}
	dir = c.mapDir(dir)
	which := "the per-connection out-of-order buffer (reassembly's Options.MaxBuffered)"
	if total {
		which = "the total out-of-order buffer (reassembly's Options.MaxBufferedTotal)"
	}
	c.d.finding(&c.Session, p, CodeBufferCapped, dir, "out-of-order data from the %s exceeds %s (%d bytes): %d bytes are treated as lost", dir, which, limit, n)
}
