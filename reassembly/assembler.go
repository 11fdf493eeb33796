// Package reassembly puts the TCP segments of every connection back in
// order, per direction, and feeds the byte streams to a stream.Stream per
// connection: in-order bytes, explicit gaps where the capture lost data,
// snaplen cuts, overlap conflicts, buffer caps and the connection's end. It
// knows no protocol above TCP. Time comes from packet timestamps only.
//
// In-order payload is handed to the Stream straight from the packet buffer;
// out-of-order segments are copied once into buffers owned here. The Stream
// may modify what it is handed (stream.Stream.Data).
//
// # Overlapping segments
//
// When two segments carry the same sequence numbers, the first copy seen is
// kept, everywhere: bytes already delivered are never replaced, and a
// segment that overlaps buffered out-of-order data only adds the bytes not
// buffered yet. That is what a receiver does for bytes it already took in
// order (Linux, the BSDs and Windows alike). Receivers differ for
// out-of-order data: Linux's out-of-order queue (tcp_data_queue_ofo) lets a
// later segment that starts at or before a queued one and covers it
// entirely replace it, and where two queued segments overlap partly, the
// one that starts first supplies the shared bytes. So when copies differ
// the capture cannot tell which one the receiver used, and wscap reports
// it (stream.Stream.Overlap; dissect's finding tcp-overlap-conflict): overlaps are
// compared with the buffered copy, and retransmissions of bytes already
// delivered with a short window of the last bytes delivered in that
// direction that the receiver had not acknowledged yet (Options.
// OverlapWindow, 4 KiB by default). Bytes the receiver acknowledged are not
// compared: it has them already, so no later copy can change what it saw.
//
// # Caps
//
// Out-of-order bytes are capped per connection (Options.MaxBuffered) and
// over all connections (Options.MaxBufferedTotal). A segment that would go
// over a cap makes the reassembly give up waiting for the bytes missing
// before the buffered data: the Stream is told (stream.Stream.BufferCapped;
// dissect's finding cap-buffered), then they are a gap. The windows of delivered
// bytes are capped in total too (Options.OverlapWindowTotal); a direction
// that finds none free is not compared.
package reassembly

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"
	"unsafe"

	"github.com/google/btree"

	"github.com/wscap/wscap/internal/prefetch"
	"github.com/wscap/wscap/pcap"
	"github.com/wscap/wscap/stream"
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
	// OverlapWindow is how many of the last delivered, unacknowledged bytes
	// of each direction are kept to compare retransmissions with (rounded
	// up to a power of two). Default 4 KiB; negative disables the check
	// for delivered bytes.
	OverlapWindow int
	// OverlapWindowTotal caps the memory of those windows over all
	// connections. Default 8 MiB.
	OverlapWindowTotal int
	// MaxConns caps the connections tracked at once. A new connection
	// beyond it evicts the one that has been quiet longest (it ends with a
	// cap-conns finding). Zero means no cap. Connections that have
	// carried no byte yet do not count (see MaxHalfOpen).
	MaxConns int
	// MaxHalfOpen caps the connections tracked at once that have carried
	// no byte yet (SYNs, handshakes and pure ACKs: a SYN flood or a port
	// scan), kept in a compact table of ~100 bytes each. A new one beyond
	// it makes the oldest forgotten (Stats.HalfOpenForgotten): if it
	// carries data later, it is picked up there, as if mid-stream.
	// Default 500,000 (~85 MB).
	MaxHalfOpen int
}

// Stats counts what the Assembler saw. Packets of each TCP connection are
// attributed when the connection ends, once it is known whether its
// Stream claimed it.
type Stats struct {
	ClaimedPackets int64 // TCP packets of connections their Stream claimed (see stream.Stream.End)
	OtherPackets   int64 // TCP packets of other connections
	Connections    int64 // TCP connections seen
	Gaps           int64 // gaps declared
	GapBytes       int64
	OutOfOrder     int64 // segments buffered out of order
	Retransmitted  int64 // segments (or parts) seen twice
	Conflicts      int64 // retransmissions or overlaps whose bytes differ from the first copy
	ConflictBytes  int64
	CapDropped     int64 // times a buffer cap made the reassembly give up on missing bytes
	Evicted        int64 // connections ended to stay within MaxConns
	AfterEviction  int64 // packets of evicted connections that came after: counted, not dissected
	WindowsDenied  int64 // deliveries that found no window free (OverlapWindowTotal): their bytes are not kept to compare
	// Connections that had carried no byte: HalfOpen were tracked so
	// (all of them, at first), Promoted of those then carried some,
	// EmptyConns ended without (they never had a Stream: a consumer
	// counting connections by what they carried counts these as
	// nothing), HalfOpenForgotten of those to stay within MaxHalfOpen.
	HalfOpen          int64
	Promoted          int64
	EmptyConns        int64
	HalfOpenForgotten int64
}

// flowKey identifies a TCP connection whichever way a packet goes: the two
// endpoints in a fixed order, as plain words (netip.Addr holds a zone
// handle, which makes hashing and comparing it several times slower).
type flowKey struct {
	loHi, loLo, hiHi, hiLo uint64 // the addresses in 16-byte form, lower endpoint first
	loPort, hiPort         uint16
	v4                     uint8 // endpoints in IPv4: the 16-byte form of 192.0.2.1 is that of ::ffff:192.0.2.1
}

// endpointHash mixes one endpoint (splitmix64's finaliser constants).
func endpointHash(hi, lo uint64, port uint16) uint64 {
	h := hi*0x9e3779b97f4a7c15 ^ lo
	h = (h ^ h>>32) * 0x94d049bb133111eb
	return (h ^ h>>29 ^ uint64(port)) * 0xbf58476d1ce4e5b9
}

// Assembler tracks every TCP connection of one input (or one shard of it).
// It is not safe for concurrent use.
type Assembler struct {
	opts Options
	f    stream.Factory
	// conns finds live connections by the hash of their flowKey (a
	// 64-bit key is several times faster to find than the 36-byte
	// flowKey, which matters at 100,000 connections).
	conns connTable
	// dead holds finished connections (tombstones) until tombstoneTTL has
	// passed, apart from the live table so that it stays small: one word
	// by the flow's 64-bit hash, nothing for the garbage collector to scan
	// (~20 bytes each, against ~70 keyed by the flowKey). Two flows whose
	// hashes collide (odds ~1e-9 with 200,000 tombstones) would share one:
	// the later flow's packets without SYN would count as the first's.
	dead map[uint64]tomb
	head conn // sentinel of the list of live connections, oldest first
	// lru orders the live connections by last activity, quietest first,
	// for MaxConns. Keeping it costs a list update per packet (and cache
	// misses on two other connections), so it is built only once half of
	// MaxConns are live, by sorting them on seen; from then on every
	// packet updates it. The order is the same as if it had been kept all
	// along.
	lru      conn
	lruOn    bool
	pkts     uint64 // packets so far: the clock of conn.seen
	live     int    // live connections
	buffered int    // out-of-order bytes held over all connections
	stats    Stats

	free []*conn // finished connections' structs to reuse

	// halfOpen holds the connections that have carried no byte yet, by
	// the hash of their flowKey (see halfopen.go); hoOrder[hoHead:] lists
	// them oldest first (with entries already gone), for MaxHalfOpen.
	halfOpen map[uint64]halfOpen
	hoOrder  []hoRef
	hoHead   int
	hoGen    uint32

	segFree  *btree.FreeListG[oooSeg] // nodes of the out-of-order queues
	overlaps []oooSeg                 // buffer's scratch

	winSize  int       // OverlapWindow, a power of two; 0: off
	winFree  []*window // windows to reuse
	winCount int       // windows allocated
	winMax   int
}

// New returns an Assembler that feeds each connection it finds to a Stream
// made by f.
func New(f stream.Factory, opts Options) *Assembler {
	if opts.MaxBuffered <= 0 {
		opts.MaxBuffered = 4 << 20
	}
	if opts.MaxBufferedTotal <= 0 {
		opts.MaxBufferedTotal = 256 << 20
	}
	if opts.OverlapWindow == 0 {
		opts.OverlapWindow = 4 << 10
	}
	if opts.OverlapWindowTotal <= 0 {
		opts.OverlapWindowTotal = 8 << 20
	}
	if opts.MaxHalfOpen <= 0 {
		opts.MaxHalfOpen = 500000
	}
	a := &Assembler{opts: opts, f: f, dead: make(map[uint64]tomb), halfOpen: make(map[uint64]halfOpen), segFree: btree.NewFreeListG[oooSeg](64)}
	if opts.OverlapWindow > 0 {
		a.winSize = 1
		for a.winSize < opts.OverlapWindow {
			a.winSize <<= 1
		}
		a.winMax = max(1, opts.OverlapWindowTotal/a.winSize)
	}
	a.head.next, a.head.prev = &a.head, &a.head
	a.lru.lruNext, a.lru.lruPrev = &a.lru, &a.lru
	return a
}

// Stats returns the counters so far.
func (a *Assembler) Stats() Stats { return a.stats }

// Open returns the number of connections currently tracked: live ones and
// finished ones still remembered.
func (a *Assembler) Open() int { return a.live + len(a.dead) + len(a.halfOpen) }

// Tick does the periodic work due at packet time p, before the packet at p:
// it ends idle connections and forgets finished ones. The caller calls it
// every ScanInterval of packet time, so that the work happens at the same
// packets however the input is spread over Assemblers.
func (a *Assembler) Tick(p stream.Pos) { a.expire(p) }

// ScanInterval is how often, in packet time, Tick should run.
func (a *Assembler) ScanInterval() time.Duration {
	if a.opts.IdleTimeout > 0 && a.opts.IdleTimeout/4 < tombstoneTTL/4 {
		return a.opts.IdleTimeout / 4
	}
	return tombstoneTTL / 4
}

// Packet processes one TCP segment, the packet at p.
func (a *Assembler) Packet(p stream.Pos, seg *pcap.Segment) {
	k := KeyOf(seg)
	a.PacketKey(p, seg, &k)
}

// FlowKey identifies a segment's connection, computed once per packet
// (KeyOf) to prefetch its state and to process it.
type FlowKey struct {
	k     flowKey
	h     uint64
	srcLo bool // the segment's source is the key's lower endpoint
}

// KeyOf returns the FlowKey of seg (see Set).
func KeyOf(seg *pcap.Segment) (k FlowKey) {
	k.Set(seg)
	return k
}

// Set makes k the FlowKey of seg; both directions have the same one.
// The hash mixes each endpoint on its own and adds them, so it needs no
// ordering (and the two mixes run side by side); the key's ordering is
// done with conditional moves: which way a packet goes is a coin toss the
// branch predictor would lose.
func (k *FlowKey) Set(seg *pcap.Segment) {
	var ahi, alo, bhi, blo uint64
	if aa, ba := seg.Src.Addr(), seg.Dst.Addr(); aa.Is4() && ba.Is4() {
		// As4's 4 bytes are read back at once; As16's two 8-byte halves
		// are copied as one 16-byte array, which stalls the CPU (store
		// forwarding) and costs more than the rest of Set.
		a4, b4 := aa.As4(), ba.As4()
		alo, blo = 0xffff<<32|uint64(binary.BigEndian.Uint32(a4[:])), 0xffff<<32|uint64(binary.BigEndian.Uint32(b4[:]))
		k.k.v4 = 2
	} else {
		a16, b16 := aa.As16(), ba.As16()
		ahi, alo = binary.BigEndian.Uint64(a16[:8]), binary.BigEndian.Uint64(a16[8:])
		bhi, blo = binary.BigEndian.Uint64(b16[:8]), binary.BigEndian.Uint64(b16[8:])
		k.k.v4 = 0
		if aa.Is4() || ba.Is4() {
			k.k.v4 = 1
		}
	}
	ap, bp := seg.Src.Port(), seg.Dst.Port()
	h := endpointHash(ahi, alo, ap) + endpointHash(bhi, blo, bp)
	h = (h ^ h>>31 ^ uint64(k.k.v4)) * 0xbf58476d1ce4e5b9
	k.h = h ^ h>>29
	swap := ahi > bhi || ahi == bhi && (alo > blo || alo == blo && ap > bp)
	lohi, lolo, hihi, hilo, lop, hip := ahi, alo, bhi, blo, ap, bp
	if swap {
		lohi, hihi = bhi, ahi
	}
	if swap {
		lolo, hilo = blo, alo
	}
	if swap {
		lop, hip = bp, ap
	}
	k.k.loHi, k.k.loLo, k.k.hiHi, k.k.hiLo, k.k.loPort, k.k.hiPort = lohi, lolo, hihi, hilo, lop, hip
	k.srcLo = !swap
}

// Hash is the key's 64-bit hash, the same for both directions (a caller
// spreading connections over Assemblers uses its high bits: the low ones
// place the connection in an Assembler's table).
func (k *FlowKey) Hash() uint64 { return k.h }

// Prefetch hints that the packet seg, with key k, comes soon,
// so that the CPU loads the state it will touch meanwhile: with many
// connections almost every packet finds its connection out of the cache.
// The caller looks ahead in stages, each reading what the one before
// loaded: stage 0 (furthest ahead) the table slot, stage 1 the connection,
// stage 2 its dissection state. A hint never changes a result.
func (a *Assembler) Prefetch(k *FlowKey, stage int, seg *pcap.Segment) {
	if stage == 0 {
		a.conns.prefetchSlot(k.h)
		return
	}
	c := a.conns.peek(k.h)
	if c == nil {
		return
	}
	switch stage {
	case 1:
		prefetch.Lines(uintptr(unsafe.Pointer(c)), int((unsafe.Sizeof(*c)+63)/64))
	case 2:
		// Dissection runs for payload, and ends the connection on a FIN
		// or RST.
		end := seg.Flags&(pcap.FlagFIN|pcap.FlagRST) != 0
		if (len(seg.Payload) > 0 || end) && c.dc != nil {
			c.dc.Prefetch(end)
		}
	}
}

// PacketKey is Packet for a segment whose FlowKey is known.
func (a *Assembler) PacketKey(p stream.Pos, seg *pcap.Segment, fk *FlowKey) {
	a.pkts++
	k, kh := fk.k, fk.h
	c := a.conns.get(kh, &k)
	syn := seg.Flags&pcap.FlagSYN != 0
	continues := false
	if c == nil && len(a.halfOpen) > 0 {
		if e, ok := a.halfOpen[kh]; ok {
			var taken bool
			if taken, c = a.halfOpenPacket(&e, kh, &k, fk, p, seg); taken {
				return
			}
		}
	}
	if c == nil {
		if t, ok := a.dead[kh]; ok {
			if t.idle() && !syn {
				// Traffic of a connection ended idle: a new one, which
				// continues it when it was claimed.
				delete(a.dead, kh)
				continues = t.claimed()
			} else if !syn || seg.Flags&pcap.FlagACK != 0 {
				// The last ACKs of a finished connection count with it;
				// so does all later traffic of one evicted by MaxConns,
				// which is not taken up again mid-stream.
				a.countTomb(t.claimed(), 1)
				if t.evicted() {
					a.stats.AfterEviction++
				}
				a.dead[kh] = t.touched(p.TS)
				return
			}
			// A new SYN on a finished connection's 4-tuple: port reuse.
			delete(a.dead, kh)
		}
	} else if syn && seg.Flags&pcap.FlagACK == 0 && c.reusable(seg) {
		// A new SYN on a live 4-tuple: port reuse starts a new connection.
		// One that did not finish was abandoned by the client.
		reason := stream.EndIdle
		if c.half[0].fin || c.half[1].fin {
			reason = stream.EndFIN
		}
		a.finish(c, p, reason)
		c = nil
	}
	if c == nil {
		if !carries(seg) {
			a.newHalfOpen(kh, fk, p, seg, continues)
			return
		}
		client, server := orient(seg)
		c = a.newConn(k, kh, p, p, client, server, seg.Flags&pcap.FlagSYN != 0, continues)
		a.stats.Connections++
	}
	c.packets++
	c.last = p.TS
	c.seen = a.pkts
	if a.lruOn {
		a.touch(c)
	}
	dir := stream.ClientToServer
	if seg.Src != c.a {
		dir = stream.ServerToClient
	}
	h := &c.half[dir]
	if syn {
		c.synSeen = true
		if !h.syn {
			h.syn, h.isn = true, seg.Seq
		}
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
		a.closed(c, p, stream.EndRST)
	}
}

// newConn starts tracking a connection whose first packet is at first, for
// the packet at now.
func (a *Assembler) newConn(k flowKey, h uint64, now, first stream.Pos, client, server netip.AddrPort, opened, continues bool) *conn {
	if a.opts.MaxConns > 0 && a.live >= a.opts.MaxConns {
		if victim := a.lru.lruNext; victim != &a.lru {
			a.stats.Evicted++
			a.finish(victim, now, stream.EndEvicted)
			// Its later packets are counted, not taken for a new
			// connection picked up mid-stream.
			a.dead[victim.hash] = newTomb(victim.last, claimedFlag(victim.claimed)|tombEvicted)
		}
	}
	var c *conn
	if n := len(a.free); n > 0 {
		c, a.free = a.free[n-1], a.free[:n-1]
		*c = conn{key: k, a: client, b: server}
	} else {
		c = &conn{key: k, a: client, b: server}
	}
	a.live++
	if a.lruOn {
		a.lruAppend(c)
	} else if a.opts.MaxConns > 0 && a.live >= max(1, a.opts.MaxConns/2) {
		defer a.buildLRU() // once c is on the list of live connections
	}
	c.dc = a.f.NewStream(stream.Conn{Client: c.a, Server: c.b, First: first, Opened: opened, Continues: continues})
	c.hash = h
	a.conns.put(h, c)
	c.prev, c.next = a.head.prev, &a.head
	a.head.prev.next = c
	a.head.prev = c
	return c
}

// data handles a segment's payload in direction dir.
func (a *Assembler) data(c *conn, dir stream.Direction, p stream.Pos, seg *pcap.Segment) {
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
		a.releaseWindow(h)
		return
	}
	if d, old := before(seq, h.next); old {
		// Starts before what was already delivered: a retransmission, or an
		// overlap whose new tail is still useful. The first copy is kept.
		a.stats.Retransmitted++
		if w := h.win; w != nil && w.end == h.next {
			if n := w.differ(seq, payload[:min(int64(len(payload)), d)]); n > 0 {
				a.conflict(c, dir, p, n)
			}
		}
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
	if first, ok := h.ooo.first(); ok {
		if k := int64(first.seq - seq); int64(len(payload)+seg.Missing) > k {
			// Fills the hole and runs into buffered data: deliver up to
			// it, and let buffer compare the rest with the first copy.
			head := clip(payload, 0, uint32(k))
			a.deliver(c, dir, p, head, int(k)-len(head))
			rest := clip(payload, uint32(k), uint32(len(payload)))
			a.buffer(c, dir, p, h.next, rest, len(payload)+seg.Missing-int(k)-len(rest))
			a.drain(c, dir, p)
			return
		}
	}
	a.deliver(c, dir, p, payload, seg.Missing)
	a.drain(c, dir, p)
}

// conflict reports n bytes of direction dir that differ from the first copy.
func (a *Assembler) conflict(c *conn, dir stream.Direction, p stream.Pos, n int) {
	a.stats.Conflicts++
	a.stats.ConflictBytes += int64(n)
	c.dc.Overlap(dir, p, int64(n))
}

// deliver hands in-order bytes (then a snaplen cut, if any) to the Stream.
func (a *Assembler) deliver(c *conn, dir stream.Direction, p stream.Pos, b []byte, missing int) {
	h := &c.half[dir]
	if len(b) > 0 {
		if a.winSize > 0 {
			// Kept before the Stream sees them: it may modify them.
			if h.win == nil {
				h.win = a.newWindow()
			}
			if h.win != nil {
				h.win.add(h.next, b)
			}
		}
		c.dc.Data(dir, p, b)
		h.next += uint32(len(b))
	}
	if missing > 0 {
		c.dc.Truncated(dir, p, int64(missing))
		h.next += uint32(missing)
	}
}

// drain delivers buffered segments that have become contiguous.
func (a *Assembler) drain(c *conn, dir stream.Direction, p stream.Pos) {
	h := &c.half[dir]
	for {
		s, ok := h.ooo.first()
		if !ok {
			break
		}
		d, old := before(s.seq, h.next)
		if !old && d != 0 {
			return // still after next
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
		h.releaseFirst(a, &s)
	}
	a.checkClosed(c, p)
}

// buffer keeps a copy of an out-of-order segment: the parts of it not
// buffered yet (the first copy is kept), after comparing the rest with
// what is buffered.
func (a *Assembler) buffer(c *conn, dir stream.Direction, p stream.Pos, seq uint32, b []byte, missing int) {
	h := &c.half[dir]
	if over, total := a.overCap(h, len(b)+segCost); over && seq != h.next {
		// Over a cap: give up on the hole before the buffered data.
		a.stats.CapDropped++
		if first, ok := h.ooo.first(); ok {
			c.dc.BufferCapped(dir, p, int64(int32(first.seq-h.next)), a.capOf(total), total)
		}
		a.skipHole(c, dir, p)
		if seq == h.next {
			a.deliver(c, dir, p, b, missing)
			a.drain(c, dir, p)
			return
		}
		if d, old := before(seq, h.next); old {
			// The hole was skipped past this segment's start.
			if int(d) >= len(b)+missing {
				return
			}
			a.data(c, dir, p, &pcap.Segment{Seq: seq, Payload: b, Missing: missing})
			return
		}
		if over, total = a.overCap(h, len(b)+segCost); over {
			// Still no room: this segment's bytes are lost too.
			n := int64(seq-h.next) + int64(len(b)+missing) // seq is after next
			c.dc.BufferCapped(dir, p, n, a.capOf(total), total)
			a.gap(c, dir, p, n)
			return
		}
	}
	a.stats.OutOfOrder++
	end := seq + uint32(len(b)+missing)
	ov := h.ooo.overlapping(a.overlaps[:0], seq, end)
	defer func() { clear(ov); a.overlaps = ov[:0] }()
	if len(ov) == 0 {
		h.insert(a, seq, b, missing) // no overlap: the usual case
		return
	}
	// Overlaps buffered data: compare the shared bytes, buffer the others.
	diff := 0
	cur := seq
	for i := range ov {
		s := &ov[i]
		if seqAfter(s.seq, cur) { // a hole before s: this segment fills it
			lo, hi := cur-seq, s.seq-seq
			h.insert(a, cur, clip(b, lo, hi), int(hi-lo)-len(clip(b, lo, hi)))
		}
		// Shared: [max(cur, s.seq), min(end, s.end)).
		lo := maxSeq(cur, s.seq)
		hi := s.end()
		if seqAfter(hi, end) {
			hi = end
		}
		x := clip(b, lo-seq, hi-seq)
		y := clip(s.data, lo-s.seq, hi-s.seq)
		for k := range min(len(x), len(y)) {
			if x[k] != y[k] {
				diff++
			}
		}
		cur = hi
	}
	a.stats.Retransmitted++
	if seqAfter(end, cur) {
		lo := cur - seq
		h.insert(a, cur, clip(b, lo, end-seq), int(end-cur)-len(clip(b, lo, end-seq)))
	}
	if diff > 0 {
		a.conflict(c, dir, p, diff)
	}
}

// clip returns b[lo:hi] as far as b reaches.
func clip(b []byte, lo, hi uint32) []byte {
	hi = min(hi, uint32(len(b)))
	if lo >= hi {
		return nil
	}
	return b[lo:hi]
}

// overCap reports whether buffering n more bytes in h goes over a cap, and
// whether it is the total one.
func (a *Assembler) overCap(h *half, n int) (over, total bool) {
	if h.bufferedBytes+n > a.opts.MaxBuffered {
		return true, false
	}
	if a.buffered+n > a.opts.MaxBufferedTotal {
		return true, true
	}
	return false, false
}

func (a *Assembler) capOf(total bool) int64 {
	if total {
		return int64(a.opts.MaxBufferedTotal)
	}
	return int64(a.opts.MaxBuffered)
}

// insert buffers a copy of b (and missing bytes after it) at seq, which
// overlaps no buffered segment.
func (h *half) insert(a *Assembler, seq uint32, b []byte, missing int) {
	if len(b) == 0 && missing == 0 {
		return
	}
	var data []byte
	if len(b) > 0 {
		data = make([]byte, len(b))
		copy(data, b)
	}
	s := oooSeg{seq: seq, data: data, missing: missing}
	h.ooo.put(a.segFree, s)
	h.bufferedBytes += s.cost()
	a.buffered += s.cost()
}

// skipHole declares the bytes before the first buffered segment lost and
// delivers what follows.
func (a *Assembler) skipHole(c *conn, dir stream.Direction, p stream.Pos) {
	h := &c.half[dir]
	first, ok := h.ooo.first()
	if !ok {
		return
	}
	a.gap(c, dir, p, int64(int32(first.seq-h.next)))
	a.drain(c, dir, p)
}

func (a *Assembler) gap(c *conn, dir stream.Direction, p stream.Pos, n int64) {
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
func (a *Assembler) acked(c *conn, dir stream.Direction, p stream.Pos, ack uint32) {
	h := &c.half[dir]
	if w := h.win; w != nil && w.trim(ack) {
		a.releaseWindow(h)
	}
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
	if first, ok := h.ooo.first(); ok && seqAfter(limit, first.seq) {
		limit = first.seq
	}
	if seqAfter(limit, h.next) {
		a.gap(c, dir, p, int64(int32(limit-h.next)))
		a.drain(c, dir, p)
	}
}

// checkClosed finishes the connection once both directions delivered
// everything up to their FIN.
func (a *Assembler) checkClosed(c *conn, p stream.Pos) {
	for i := range c.half {
		h := &c.half[i]
		if !h.fin || seqAfter(h.finSeq, h.next) {
			return
		}
	}
	a.closed(c, p, stream.EndFIN)
}

// closed ends a connection its peers closed (FIN or RST): it stays known
// for a while (a tombstone), so that its last ACKs are counted with it.
// Connections ended otherwise (idle, evicted, replaced by a new SYN, the
// end of the input) leave none.
func (a *Assembler) closed(c *conn, p stream.Pos, reason stream.EndReason) {
	if c.done {
		return
	}
	a.finish(c, p, reason)
	a.dead[c.hash] = newTomb(c.last, claimedFlag(c.claimed))
}

// finish ends a connection: whatever is still buffered is delivered after
// declaring the holes lost, then the Stream ends. c leaves the live
// connections and its struct is reused by a later one; the caller may
// still read c.done, c.hash, c.last and c.claimed.
func (a *Assembler) finish(c *conn, p stream.Pos, reason stream.EndReason) {
	if c.done {
		return
	}
	c.done = true
	a.untrack(c)
	for dir := range c.half {
		h := &c.half[dir]
		for h.ooo.len() > 0 && c.dc.Active() {
			a.skipHole(c, stream.Direction(dir), p)
		}
		h.dropBuffered(a)
		if h.fin && seqAfter(h.finSeq, h.next) && c.dc.Active() {
			a.gap(c, stream.Direction(dir), p, int64(int32(h.finSeq-h.next)))
		}
		a.releaseWindow(h)
	}
	c.claimed = c.dc.End(p, reason)
	c.dc = nil
	c.half = [2]half{} // drop the buffers' pointers
	a.count(c)
	c.unlink()
	a.unhash(c)
	a.free = append(a.free, c)
}

// tomb is what is left of a finished connection, in one word: the packet
// time of its last packet (Unix seconds, for tombstoneTTL), whether it was
// claimed by its Stream, and whether MaxConns evicted it.
type tomb int64

// The flags of a tomb, below the time.
const (
	tombClaimed tomb = 1 << iota // its Stream claimed it
	tombEvicted                  // MaxConns ended it
	tombIdle                     // IdleTimeout ended it
	tombShift   = iota
)

func newTomb(last time.Time, flags tomb) tomb { return tomb(last.Unix()<<tombShift) | flags }

// claimedFlag is tombClaimed when claimed.
func claimedFlag(claimed bool) tomb {
	if claimed {
		return tombClaimed
	}
	return 0
}

func (t tomb) claimed() bool { return t&tombClaimed != 0 }
func (t tomb) evicted() bool { return t&tombEvicted != 0 }
func (t tomb) idle() bool    { return t&tombIdle != 0 }
func (t tomb) last() int64   { return int64(t) >> tombShift }

// touched is t with its last packet at ts.
func (t tomb) touched(ts time.Time) tomb { return newTomb(ts, t&(1<<tombShift-1)) }

func (a *Assembler) countTomb(claimed bool, packets int64) {
	if claimed {
		a.stats.ClaimedPackets += packets
	} else {
		a.stats.OtherPackets += packets
	}
}

// count attributes a connection's packets once it is known what it was.
func (a *Assembler) count(c *conn) {
	a.countTomb(c.claimed, c.packets)
	c.packets = 0
}

// unhash removes c from the live connections' table.
func (a *Assembler) unhash(c *conn) { a.conns.del(c.hash, c) }

// tombstoneTTL is how long (packet time) a finished connection stays known.
const tombstoneTTL = 2 * time.Minute

// expire ends the connections idle for longer than the idle timeout and
// forgets finished ones after tombstoneTTL.
func (a *Assembler) expire(p stream.Pos) {
	if a.opts.IdleTimeout > 0 {
		for c := a.head.next; c != &a.head; {
			next := c.next
			if p.TS.Sub(c.last) > a.opts.IdleTimeout {
				// If the connection speaks again, that is a new one that
				// continues it (stream.Conn.Continues), while the
				// tombstone lasts.
				a.finish(c, p, stream.EndIdle)
				a.dead[c.hash] = newTomb(c.last, claimedFlag(c.claimed)|tombIdle)
			}
			c = next
		}
		a.expireHalfOpen(p)
	}
	now := p.TS.Unix()
	for k, t := range a.dead {
		if now-t.last() > int64(tombstoneTTL/time.Second) {
			delete(a.dead, k)
		}
	}
}

// Flush ends every open connection, oldest first: the input is over.
func (a *Assembler) Flush(p stream.Pos) {
	for c := a.head.next; c != &a.head; {
		next := c.next
		a.finish(c, p, stream.EndCaptureEnd)
		c = next
	}
	a.flushHalfOpen()
	clear(a.dead)
}

// conn is one TCP connection; a is the peer taken for the client.
type conn struct {
	// What every packet reads and writes comes first, in as few cache
	// lines as can be: with thousands of connections each packet finds its
	// connection out of the cache.
	key     flowKey
	a       netip.AddrPort
	dc      stream.Stream
	packets int64
	seen    uint64 // Assembler.pkts at its last packet
	last    time.Time
	synSeen bool
	done    bool // FIN/RST handled, the Stream ended
	claimed bool // the Stream claimed it (set when done)
	half    [2]half

	b          netip.AddrPort
	prev, next *conn
	// lruPrev, lruNext order the live connections by last activity.
	lruPrev, lruNext *conn
	hash             uint64 // of key
}

// touch makes c the most recently active connection.
func (a *Assembler) touch(c *conn) {
	if c.lruNext != &a.lru {
		a.lruUnlink(c)
		a.lruAppend(c)
	}
}

// untrack removes c from the live connections.
func (a *Assembler) untrack(c *conn) {
	if c.lruNext != nil { // on the lru once it is kept
		a.lruUnlink(c)
	}
	a.live--
}

func (a *Assembler) lruUnlink(c *conn) {
	c.lruPrev.lruNext, c.lruNext.lruPrev = c.lruNext, c.lruPrev
	c.lruPrev, c.lruNext = nil, nil
}

func (a *Assembler) lruAppend(c *conn) {
	c.lruPrev, c.lruNext = a.lru.lruPrev, &a.lru
	a.lru.lruPrev.lruNext = c
	a.lru.lruPrev = c
}

// buildLRU starts keeping the lru: the live connections, ordered by their
// last packet.
func (a *Assembler) buildLRU() {
	var live []*conn
	for c := a.head.next; c != &a.head; c = c.next {
		live = append(live, c)
	}
	slices.SortFunc(live, func(x, y *conn) int { return cmp.Compare(x.seen, y.seen) })
	for _, c := range live {
		a.lruAppend(c)
	}
	a.lruOn = true
}

func (c *conn) unlink() {
	if c.prev != nil {
		c.prev.next = c.next
		c.next.prev = c.prev
		c.prev, c.next = nil, nil
	}
}

// reusable reports whether a SYN (without ACK) starts a new connection on
// the 4-tuple of c, a live connection: its sender already sent bytes and
// this is not a copy of its SYN (a finished one is a tombstone, which a SYN
// always replaces). A client opens a new connection from a port only
// when it is done with the old one (RFC 9293 §3.4.1 wants a new ISN); a
// SYN inside a live connection would get a challenge ACK (RFC 5961 §4),
// which a capture cannot see, so the SYN is taken for what it says.
func (c *conn) reusable(seg *pcap.Segment) bool {
	h := &c.half[stream.ClientToServer]
	if seg.Src != c.a {
		h = &c.half[stream.ServerToClient]
	}
	if !h.started || (h.syn && seg.Seq == h.isn) {
		return false // the first SYN, or the same one again
	}
	return true
}

func (c *conn) String() string { return fmt.Sprintf("%s-%s", c.a, c.b) }

// half is one direction of a connection.
type half struct {
	started       bool
	syn           bool // a SYN was seen; isn is its sequence number
	isn           uint32
	next          uint32 // next sequence number expected
	fin           bool
	finSeq        uint32
	ooo           oooQueue
	bufferedBytes int     // what ooo counts against the caps (oooSeg.cost)
	win           *window // the last bytes delivered, not yet acknowledged
}

// releaseFirst removes s, the first buffered segment.
func (h *half) releaseFirst(a *Assembler, s *oooSeg) {
	h.bufferedBytes -= s.cost()
	a.buffered -= s.cost()
	h.ooo.popFirst()
}

func (h *half) dropBuffered(a *Assembler) {
	a.buffered -= h.bufferedBytes
	h.bufferedBytes = 0
	h.ooo.clear()
}

// seqAfter reports whether sequence number x comes after y (RFC 1982
// serial arithmetic, so wraparound works).
func seqAfter(x, y uint32) bool { return int32(x-y) > 0 }

// before reports whether sequence number seq comes before next, and by
// how many bytes (1 to 2^31). A distance of exactly 2^31, which RFC 1982
// §3.2 leaves undefined and no TCP window reaches, counts as before, as
// seqAfter has it: a segment there is old data, never buffered where no
// hole could reach it.
func before(seq, next uint32) (d int64, ok bool) {
	d = int64(next - seq)
	return d, d > 0 && d <= 1<<31
}

func maxSeq(x, y uint32) uint32 {
	if seqAfter(y, x) {
		return y
	}
	return x
}

// window keeps the last bytes delivered in one direction, up to its size,
// that the receiver has not acknowledged yet: retransmissions of them are
// compared with it. It is a ring indexed by sequence number.
type window struct {
	buf []byte // len is a power of two
	end uint32 // sequence number after the last byte kept
	n   int    // bytes kept, ending at end
}

// add appends b, delivered at sequence number seq.
func (w *window) add(seq uint32, b []byte) {
	if w.n > 0 && w.end != seq {
		w.n = 0 // bytes were skipped (a gap, a snaplen cut): start again
	}
	size := len(w.buf)
	end := seq + uint32(len(b))
	if len(b) > size {
		b = b[len(b)-size:]
		seq = end - uint32(size)
	}
	i := int(seq) & (size - 1)
	k := copy(w.buf[i:], b)
	copy(w.buf, b[k:])
	w.end = end
	w.n = min(w.n+len(b), size)
}

// differ counts the bytes of b, sent at seq, that differ from the bytes kept
// for the same sequence numbers.
func (w *window) differ(seq uint32, b []byte) int {
	start := w.end - uint32(w.n)
	if d := int32(start - seq); d > 0 {
		if int(d) >= len(b) {
			return 0
		}
		b, seq = b[d:], start
	}
	if d := int32(seq + uint32(len(b)) - w.end); d > 0 {
		if int(d) >= len(b) {
			return 0
		}
		b = b[:len(b)-int(d)]
	}
	mask := len(w.buf) - 1
	n := 0
	for k, x := range b {
		if w.buf[(int(seq)+k)&mask] != x {
			n++
		}
	}
	return n
}

// trim forgets the bytes acknowledged by ack and reports whether none is
// left.
func (w *window) trim(ack uint32) bool {
	start := w.end - uint32(w.n)
	if seqAfter(ack, start) {
		if !seqAfter(w.end, ack) {
			w.n = 0
		} else {
			w.n = int(w.end - ack)
		}
	}
	return w.n == 0
}

// newWindow returns a free window, or nil when OverlapWindowTotal is spent.
func (a *Assembler) newWindow() *window {
	if n := len(a.winFree); n > 0 {
		w := a.winFree[n-1]
		a.winFree = a.winFree[:n-1]
		return w
	}
	if a.winCount >= a.winMax {
		a.stats.WindowsDenied++
		return nil
	}
	a.winCount++
	return &window{buf: make([]byte, a.winSize)}
}

// releaseWindow gives h's window back for reuse.
func (a *Assembler) releaseWindow(h *half) {
	if h.win != nil {
		h.win.n = 0
		a.winFree = append(a.winFree, h.win)
		h.win = nil
	}
}
