// Package reassembly puts the TCP segments of every connection back in
// order, per direction, and feeds the byte streams to dissect: in-order
// bytes, explicit gaps where the capture lost data, and the connection's
// end. Time comes from packet timestamps only.
//
// In-order payload is handed to dissect straight from the packet buffer;
// out-of-order segments are copied once into buffers owned here.
package reassembly

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/wscap/wscap/dissect"
	"github.com/wscap/wscap/pcap"
)

// Options configure an Assembler. The zero value gives the defaults.
type Options struct {
	// MaxBuffered caps out-of-order bytes buffered per connection. When a
	// segment would exceed it, the hole before the buffered data is declared
	// lost. Default 4 MiB.
	MaxBuffered int
	// MaxBufferedTotal caps out-of-order bytes over all connections.
	// Default 256 MiB.
	MaxBufferedTotal int
	// IdleTimeout ends connections that saw no packet for this long, in
	// packet time. Zero means never.
	IdleTimeout time.Duration
}

// Stats counts what the Assembler saw. Packets of each TCP connection are
// attributed when the connection ends, once it is known whether it was
// WebSocket.
type Stats struct {
	WSPackets       int64 // TCP packets of connections recognised as WebSocket
	OtherTCPPackets int64 // TCP packets of other connections
	Connections     int64 // TCP connections seen
	Gaps            int64 // gaps declared
	GapBytes        int64
	OutOfOrder      int64 // segments buffered out of order
	Retransmitted   int64 // segments (or parts) seen twice
	CapDropped      int64 // out-of-order segments dropped by a buffer cap
}

type flowKey struct {
	lo, hi netip.AddrPort
}

func keyOf(a, b netip.AddrPort) flowKey {
	if a.Addr().Less(b.Addr()) || (a.Addr() == b.Addr() && a.Port() < b.Port()) {
		return flowKey{a, b}
	}
	return flowKey{b, a}
}

// Assembler tracks every TCP connection of one input (or one shard of it).
// It is not safe for concurrent use.
type Assembler struct {
	opts     Options
	d        *dissect.Dissector
	conns    map[flowKey]*conn
	head     conn // sentinel of the list of live connections, oldest first
	dead     conn // sentinel of the list of finished connections
	buffered int  // out-of-order bytes held over all connections
	stats    Stats
}

// New returns an Assembler that feeds the connections it finds to d.
func New(d *dissect.Dissector, opts Options) *Assembler {
	if opts.MaxBuffered <= 0 {
		opts.MaxBuffered = 4 << 20
	}
	if opts.MaxBufferedTotal <= 0 {
		opts.MaxBufferedTotal = 256 << 20
	}
	a := &Assembler{opts: opts, d: d, conns: make(map[flowKey]*conn)}
	a.head.next, a.head.prev = &a.head, &a.head
	a.dead.next, a.dead.prev = &a.dead, &a.dead
	return a
}

// Stats returns the counters so far.
func (a *Assembler) Stats() Stats { return a.stats }

// Open returns the number of connections currently tracked.
func (a *Assembler) Open() int { return len(a.conns) }

// Tick does the periodic work due at packet time p, before the packet at p:
// it ends idle connections and forgets finished ones. The caller calls it
// every ScanInterval of packet time, so that the work happens at the same
// packets however the input is spread over Assemblers.
func (a *Assembler) Tick(p dissect.Pos) { a.expire(p) }

// ScanInterval is how often, in packet time, Tick should run.
func (a *Assembler) ScanInterval() time.Duration {
	if a.opts.IdleTimeout > 0 && a.opts.IdleTimeout/4 < tombstoneTTL/4 {
		return a.opts.IdleTimeout / 4
	}
	return tombstoneTTL / 4
}

// Packet processes one TCP segment, the packet at p.
func (a *Assembler) Packet(p dissect.Pos, seg *pcap.Segment) {
	k := keyOf(seg.Src, seg.Dst)
	c := a.conns[k]
	syn := seg.Flags&pcap.FlagSYN != 0
	if c != nil && syn && seg.Flags&pcap.FlagACK == 0 && c.reusable(seg) {
		// A new SYN on a finished 4-tuple: port reuse starts a new connection.
		a.finish(c, p, dissect.EndFIN)
		a.forget(c)
		c = nil
	}
	if c == nil {
		c = a.newConn(k, p, seg)
	}
	c.packets++
	c.last = p.TS
	if c.done {
		a.count(c)
		return
	}
	dir := dissect.ClientToServer
	if seg.Src != c.a {
		dir = dissect.ServerToClient
	}
	h := &c.half[dir]
	if syn {
		c.synSeen = true
		if !h.started || !seqAfter(h.next, seg.Seq+1) {
			h.started = true
			h.next = seg.Seq + 1
		}
	}
	if len(seg.Payload) > 0 || seg.Missing > 0 {
		a.data(c, dir, p, seg)
	}
	if seg.Flags&pcap.FlagACK != 0 && !c.done {
		a.acked(c, dir.Reverse(), p, seg.Ack)
	}
	if seg.Flags&pcap.FlagFIN != 0 && !c.done {
		h.fin = true
		h.finSeq = seg.Seq + uint32(len(seg.Payload)+seg.Missing)
		if !h.started {
			h.started = true
			h.next = h.finSeq
		}
		a.checkClosed(c, p)
	}
	if seg.Flags&pcap.FlagRST != 0 && !c.done {
		a.finish(c, p, dissect.EndRST)
	}
}

func (a *Assembler) newConn(k flowKey, p dissect.Pos, seg *pcap.Segment) *conn {
	c := &conn{key: k, a: seg.Src, b: seg.Dst}
	if seg.Flags&pcap.FlagSYN != 0 && seg.Flags&pcap.FlagACK != 0 {
		c.a, c.b = seg.Dst, seg.Src // a SYN-ACK comes from the server
	}
	c.dc = a.d.NewConn(c.a, c.b, p)
	a.conns[k] = c
	c.prev, c.next = a.head.prev, &a.head
	a.head.prev.next = c
	a.head.prev = c
	a.stats.Connections++
	return c
}

// data handles a segment's payload in direction dir.
func (a *Assembler) data(c *conn, dir dissect.Direction, p dissect.Pos, seg *pcap.Segment) {
	h := &c.half[dir]
	payload := seg.Payload
	seq := seg.Seq
	if !h.started {
		// Mid-stream start: the first byte seen is where the stream begins.
		h.started = true
		h.next = seq
	}
	if !c.dc.Active() {
		h.next = maxSeq(h.next, seq+uint32(len(payload)+seg.Missing))
		h.dropBuffered(a)
		return
	}
	if d := int64(int32(h.next - seq)); d > 0 {
		// Starts before what was already delivered: a retransmission, or an
		// overlap whose new tail is still useful. The first copy is kept.
		a.stats.Retransmitted++
		if d >= int64(len(payload)+seg.Missing) {
			return
		}
		if d >= int64(len(payload)) {
			seg.Missing -= int(d) - len(payload)
			payload = nil
		} else {
			payload = payload[d:]
		}
		seq = h.next
	}
	if seq != h.next {
		a.buffer(c, dir, p, seq, payload, seg.Missing)
		return
	}
	a.deliver(c, dir, p, payload, seg.Missing)
	a.drain(c, dir, p)
}

// deliver hands in-order bytes (then a snaplen cut, if any) to dissect.
func (a *Assembler) deliver(c *conn, dir dissect.Direction, p dissect.Pos, b []byte, missing int) {
	h := &c.half[dir]
	if len(b) > 0 {
		c.dc.Data(dir, p, b)
		h.next += uint32(len(b))
	}
	if missing > 0 {
		c.dc.Truncated(dir, p, int64(missing))
		h.next += uint32(missing)
	}
}

// drain delivers buffered segments that have become contiguous.
func (a *Assembler) drain(c *conn, dir dissect.Direction, p dissect.Pos) {
	h := &c.half[dir]
	for len(h.ooo) > 0 {
		s := &h.ooo[0]
		d := int32(h.next - s.seq)
		if d < 0 {
			return
		}
		end := s.seq + uint32(len(s.data)+s.missing)
		if seqAfter(end, h.next) {
			b := s.data
			missing := s.missing
			if int(d) <= len(b) {
				b = b[d:]
			} else {
				missing -= int(d) - len(b)
				b = nil
			}
			a.deliver(c, dir, p, b, missing)
		}
		h.release(a, 0)
	}
	a.checkClosed(c, p)
}

// buffer keeps a copy of an out-of-order segment.
func (a *Assembler) buffer(c *conn, dir dissect.Direction, p dissect.Pos, seq uint32, b []byte, missing int) {
	h := &c.half[dir]
	if h.bufferedBytes+len(b) > a.opts.MaxBuffered || a.buffered+len(b) > a.opts.MaxBufferedTotal {
		// Over a cap: give up on the hole before the buffered data.
		a.stats.CapDropped++
		a.skipHole(c, dir, p)
		if seq == h.next {
			a.deliver(c, dir, p, b, missing)
			a.drain(c, dir, p)
			return
		}
		if h.bufferedBytes+len(b) > a.opts.MaxBuffered || a.buffered+len(b) > a.opts.MaxBufferedTotal {
			// Still no room: this segment's bytes are lost too.
			a.gap(c, dir, p, int64(int32(seq-h.next))+int64(len(b)+missing))
			return
		}
	}
	a.stats.OutOfOrder++
	i := len(h.ooo)
	for i > 0 && seqAfter(h.ooo[i-1].seq, seq) {
		i--
	}
	if i > 0 && h.ooo[i-1].seq == seq && len(h.ooo[i-1].data) >= len(b) {
		a.stats.Retransmitted++
		return // a duplicate of a buffered segment
	}
	data := make([]byte, len(b))
	copy(data, b)
	h.ooo = append(h.ooo, oooSeg{})
	copy(h.ooo[i+1:], h.ooo[i:])
	h.ooo[i] = oooSeg{seq: seq, data: data, missing: missing}
	h.bufferedBytes += len(data)
	a.buffered += len(data)
}

// skipHole declares the bytes before the first buffered segment lost and
// delivers what follows.
func (a *Assembler) skipHole(c *conn, dir dissect.Direction, p dissect.Pos) {
	h := &c.half[dir]
	if len(h.ooo) == 0 {
		return
	}
	a.gap(c, dir, p, int64(int32(h.ooo[0].seq-h.next)))
	a.drain(c, dir, p)
}

func (a *Assembler) gap(c *conn, dir dissect.Direction, p dissect.Pos, n int64) {
	if n <= 0 {
		return
	}
	a.stats.Gaps++
	a.stats.GapBytes += n
	c.dc.Gap(dir, p, n)
	c.half[dir].next += uint32(n)
}

// acked handles an acknowledgment of direction dir's bytes up to ack: bytes
// the receiver acknowledged but the capture never showed were lost by the
// capture.
func (a *Assembler) acked(c *conn, dir dissect.Direction, p dissect.Pos, ack uint32) {
	h := &c.half[dir]
	if !h.started || !seqAfter(ack, h.next) {
		return
	}
	if h.fin && !seqAfter(ack, h.finSeq) && ack == h.finSeq+1 {
		ack = h.finSeq
	}
	limit := ack
	if h.fin && seqAfter(limit, h.finSeq) {
		limit = h.finSeq
	}
	if len(h.ooo) > 0 && seqAfter(limit, h.ooo[0].seq) {
		limit = h.ooo[0].seq
	}
	if seqAfter(limit, h.next) {
		a.gap(c, dir, p, int64(int32(limit-h.next)))
		a.drain(c, dir, p)
	}
}

// checkClosed finishes the connection once both directions delivered
// everything up to their FIN.
func (a *Assembler) checkClosed(c *conn, p dissect.Pos) {
	for i := range c.half {
		h := &c.half[i]
		if !h.fin || seqAfter(h.finSeq, h.next) {
			return
		}
	}
	a.finish(c, p, dissect.EndFIN)
}

// finish ends a connection: whatever is still buffered is delivered after
// declaring the holes lost, then dissect ends it. The connection stays known
// for a while (a tombstone), so that its last ACKs are counted with it.
func (a *Assembler) finish(c *conn, p dissect.Pos, reason dissect.EndReason) {
	if c.done {
		return
	}
	c.done = true
	for dir := range c.half {
		h := &c.half[dir]
		for len(h.ooo) > 0 && c.dc.Active() {
			a.skipHole(c, dissect.Direction(dir), p)
		}
		h.dropBuffered(a)
		if h.fin && seqAfter(h.finSeq, h.next) && c.dc.Active() {
			a.gap(c, dissect.Direction(dir), p, int64(int32(h.finSeq-h.next)))
		}
	}
	c.dc.End(p, reason)
	c.ws = c.dc.IsWebSocket()
	c.dc = nil
	c.half = [2]half{}
	a.count(c)
	c.unlink()
	c.prev, c.next = a.dead.prev, &a.dead
	a.dead.prev.next = c
	a.dead.prev = c
}

// count attributes a connection's packets once it is known what it was.
func (a *Assembler) count(c *conn) {
	if c.ws {
		a.stats.WSPackets += c.packets
	} else {
		a.stats.OtherTCPPackets += c.packets
	}
	c.packets = 0
}

// forget drops a finished connection.
func (a *Assembler) forget(c *conn) {
	c.unlink()
	if a.conns[c.key] == c {
		delete(a.conns, c.key)
	}
}

// tombstoneTTL is how long (packet time) a finished connection stays known.
const tombstoneTTL = 2 * time.Minute

// expire ends the connections idle for longer than the idle timeout and
// forgets finished ones after tombstoneTTL.
func (a *Assembler) expire(p dissect.Pos) {
	if a.opts.IdleTimeout > 0 {
		for c := a.head.next; c != &a.head; {
			next := c.next
			if p.TS.Sub(c.last) > a.opts.IdleTimeout {
				a.finish(c, p, dissect.EndIdle)
			}
			c = next
		}
	}
	for c := a.dead.next; c != &a.dead; {
		next := c.next
		if p.TS.Sub(c.last) > tombstoneTTL {
			a.forget(c)
		}
		c = next
	}
}

// Flush ends every open connection, oldest first: the input is over.
func (a *Assembler) Flush(p dissect.Pos) {
	for c := a.head.next; c != &a.head; {
		next := c.next
		a.finish(c, p, dissect.EndCaptureEnd)
		c = next
	}
	for c := a.dead.next; c != &a.dead; {
		next := c.next
		a.count(c)
		a.forget(c)
		c = next
	}
}

// conn is one TCP connection; a is the peer taken for the client.
type conn struct {
	key        flowKey
	a, b       netip.AddrPort
	dc         *dissect.Conn
	half       [2]half
	synSeen    bool
	done       bool // FIN/RST handled, dissect ended: a tombstone
	ws         bool // recognised as WebSocket (set when done)
	packets    int64
	last       time.Time
	prev, next *conn
}

func (c *conn) unlink() {
	if c.prev != nil {
		c.prev.next = c.next
		c.next.prev = c.prev
		c.prev, c.next = nil, nil
	}
}

// reusable reports whether a SYN starts a new connection on c's 4-tuple.
func (c *conn) reusable(seg *pcap.Segment) bool {
	if c.done {
		return true
	}
	h := &c.half[dissect.ClientToServer]
	if seg.Src != c.a {
		h = &c.half[dissect.ServerToClient]
	}
	// A SYN with a sequence number other than the one already seen.
	return c.synSeen && h.started && seg.Seq+1 != h.next && (c.half[0].fin || c.half[1].fin)
}

func (c *conn) String() string { return fmt.Sprintf("%s-%s", c.a, c.b) }

// half is one direction of a connection.
type half struct {
	started       bool
	next          uint32 // next sequence number expected
	fin           bool
	finSeq        uint32
	ooo           []oooSeg // sorted by seq
	bufferedBytes int
}

type oooSeg struct {
	seq     uint32
	data    []byte
	missing int
}

func (h *half) release(a *Assembler, i int) {
	n := len(h.ooo[i].data)
	h.bufferedBytes -= n
	a.buffered -= n
	h.ooo = append(h.ooo[:i], h.ooo[i+1:]...)
}

func (h *half) dropBuffered(a *Assembler) {
	a.buffered -= h.bufferedBytes
	h.bufferedBytes = 0
	h.ooo = nil
}

// seqAfter reports whether sequence number x comes after y (RFC 1982
// serial arithmetic, so wraparound works).
func seqAfter(x, y uint32) bool { return int32(x-y) > 0 }

func maxSeq(x, y uint32) uint32 {
	if seqAfter(y, x) {
		return y
	}
	return x
}
