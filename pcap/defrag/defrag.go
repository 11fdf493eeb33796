// Package defrag reassembles fragmented IP datagrams (RFC 791 §2.3 and
// §3.2 for IPv4, RFC 8200 §4.5 for IPv6), so that what comes after it
// (sharding, TCP reassembly) sees whole segments. It takes fragments its
// caller decoded from their IP headers (pcap.Decoder) and knows no header
// itself; it is a package of its own, as gopacket keeps ip4defrag and
// ip6defrag apart from its decoders.
//
// It is our own rather than gopacket's ip4defrag/ip6defrag: those keep a
// pointer to the caller's layer and its payload (which a
// DecodingLayerParser and a zero-copy reader overwrite at the next packet,
// so each fragment would need a fresh layer and a copy), allocate per
// fragment and per datagram, take a mutex per call, and bound neither the
// number of datagrams in progress nor the bytes they hold.
//
// What is kept: per datagram, the fragment bytes actually captured (copied
// once, in arrival order, into a pooled slice) and their ranges. Bounds: a
// datagram is at most 64 KiB, holds at most MaxFragments fragments, and is
// dropped when its last fragment did not come within Timeout of its first
// (packet time, as Linux's ipfrag_time); over all datagrams at most
// MaxDatagrams and MaxBytes (the oldest datagram is dropped first, as Linux
// does above ipfrag_high_thresh). The datagram is assembled into one
// Defragmenter-owned buffer, valid until the next Add.
//
// Rules, as Linux applies them (and gopacket's ip4defrag since v1.7): a
// fragment that repeats exactly the range of one already held is ignored;
// any other overlap, or fragments that disagree on where the datagram ends,
// drop the whole datagram (RFC 5722 for IPv6; Linux does the same for IPv4
// since 4.19, after FragmentSmack). A non-final fragment counts only whole
// 8-byte units.
package defrag

import "time"

// Options bound a Defragmenter. Zero values take the defaults.
type Options struct {
	// Timeout drops a datagram whose fragments did not all arrive within
	// this much packet time of its first one. Default 30 s (Linux's
	// ipfrag_time).
	Timeout time.Duration
	// MaxDatagrams caps the datagrams being reassembled at once; a new one
	// beyond it drops the oldest. Default 1024.
	MaxDatagrams int
	// MaxBytes caps the fragment bytes held over all datagrams; the oldest
	// datagrams are dropped to make room. Default 4 MiB (Linux's
	// ipfrag_high_thresh); at least 128 KiB.
	MaxBytes int
	// MaxFragments caps the fragments of one datagram; one more drops it.
	// Default 64 (a 64 KiB datagram cut for a 1280-byte MTU takes 52).
	MaxFragments int
}

func (o *Options) setDefaults() {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxDatagrams <= 0 {
		o.MaxDatagrams = 1024
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 4 << 20
	}
	o.MaxBytes = max(o.MaxBytes, 128<<10)
	if o.MaxFragments <= 0 {
		o.MaxFragments = 64
	}
}

// Stats counts what IP reassembly did. Every fragment is counted in
// Fragments; each datagram that was started ends in exactly one of
// Datagrams, Overlapping, TooMany, Expired, Evicted or Pending.
type Stats struct {
	Fragments   int64 `json:"fragments"`   // fragments seen (IPv4 TCP and all IPv6)
	Datagrams   int64 `json:"reassembled"` // datagrams completed
	Duplicates  int64 `json:"duplicates"`  // fragments repeating one already held (ignored)
	Invalid     int64 `json:"invalid"`     // fragments dropped as malformed (too small, too far, no payload)
	Overlapping int64 `json:"overlapping"` // datagrams dropped: fragments overlapped or disagreed on the end
	TooMany     int64 `json:"too_many"`    // datagrams dropped: more than MaxFragments fragments
	Expired     int64 `json:"expired"`     // datagrams dropped incomplete after Timeout
	Evicted     int64 `json:"evicted"`     // datagrams dropped incomplete by MaxDatagrams or MaxBytes
	Pending     int64 `json:"pending"`     // datagrams still incomplete
	HeldBytes   int64 `json:"held_bytes"`  // fragment bytes held now
	PeakBytes   int64 `json:"peak_bytes"`  // most fragment bytes held at once
	CutBytes    int64 `json:"cut_bytes"`   // bytes of reassembled datagrams missing by the snapshot length
}

// maxDatagram is the largest reassembled payload: the IPv4 total length and
// the IPv6 payload length are 16 bits.
const maxDatagram = 65535

// Key identifies the datagram a fragment belongs to: its addresses (IPv4
// ones in the first 4 bytes), Identification and, for IPv4, protocol
// (RFC 791 §3.2, RFC 8200 §4.5).
type Key struct {
	Src, Dst [16]byte
	ID       uint32
	Proto    uint8 // IPv4 only: fragments of one datagram share it
	V6       bool
}

// fragRange is one fragment held: datagram bytes [start, end) as declared,
// of which the first n were captured, stored at data[off:off+n].
type fragRange struct {
	start, end, off, n int
}

type datagram struct {
	key        Key
	first      time.Time // packet time of its first fragment
	frags      []fragRange
	data       []byte
	total      int // payload length, known from the final fragment; -1 before
	have       int // declared bytes held
	proto      uint8
	haveProto  bool
	prev, next *datagram // in order of first fragment
}

// Fragment is one fragment as decoded from its IP header. Payload is
// borrowed: Add copies what it keeps.
type Fragment struct {
	Key      Key
	Start    int    // offset in the datagram's payload
	Length   int    // declared payload bytes of this fragment
	More     bool   // more fragments follow (MF)
	Payload  []byte // captured payload bytes (may be fewer than Length)
	Proto    uint8  // next header of the fragmentable part (IPv6: meaningful when Start is 0)
	HasProto bool
}

// Defragmenter reassembles IP datagrams. It is not safe for concurrent use.
type Defragmenter struct {
	opts  Options
	dgs   map[Key]*datagram
	head  datagram // sentinel of the list, oldest first
	held  int      // bytes in datagrams' data
	free  []*datagram
	out   []byte // the last reassembled payload
	stats Stats
}

// New returns a Defragmenter bounded by o.
func New(o Options) *Defragmenter {
	o.setDefaults()
	f := &Defragmenter{opts: o, dgs: make(map[Key]*datagram)}
	f.head.next, f.head.prev = &f.head, &f.head
	return f
}

// Expire drops the datagrams whose time is up at packet time now: those
// whose first fragment came more than Timeout before it. Call it with the
// time of each packet, before Add.
func (f *Defragmenter) Expire(now time.Time) {
	if f.head.next != &f.head {
		f.expire(now)
	}
}

func (f *Defragmenter) expire(now time.Time) {
	for g := f.head.next; g != &f.head && now.Sub(g.first) > f.opts.Timeout; g = f.head.next {
		f.stats.Expired++
		f.drop(g)
	}
}

// Add takes one fragment received at packet time now. When it completes its
// datagram, Add returns the datagram's payload (valid until the next call),
// how many of its bytes are missing at the end (snapshot length) and its
// protocol, with done set.
func (f *Defragmenter) Add(fr *Fragment, now time.Time) (payload []byte, missing int, proto uint8, done bool) {
	f.stats.Fragments++
	start, length := fr.Start, fr.Length
	if fr.More {
		length &^= 7 // only whole 8-byte units count in a non-final fragment
	}
	end := start + length
	if length <= 0 || end > maxDatagram {
		f.stats.Invalid++
		return nil, 0, 0, false
	}
	captured := min(len(fr.Payload), length)
	if start == 0 && !fr.More {
		// A whole datagram in one fragment (an IPv6 atomic fragment,
		// RFC 6946): nothing to keep. A held datagram with its Id stays.
		f.stats.Datagrams++
		return fr.Payload[:captured], length - captured, fr.Proto, true
	}
	g := f.dgs[fr.Key]
	if g == nil {
		if len(f.dgs) >= f.opts.MaxDatagrams {
			f.stats.Evicted++
			f.drop(f.head.next)
		}
		g = f.newDatagram(fr.Key, now)
	}
	// Find where it goes; reject overlaps (an exact repeat is ignored).
	i := 0
	for i < len(g.frags) && g.frags[i].end <= start {
		i++
	}
	if i < len(g.frags) && g.frags[i].start < end {
		if r := g.frags[i]; r.start == start && r.end == end {
			f.stats.Duplicates++
			return nil, 0, 0, false
		}
		f.stats.Overlapping++
		f.drop(g)
		return nil, 0, 0, false
	}
	switch {
	case !fr.More:
		if (g.total >= 0 && g.total != end) || (len(g.frags) > 0 && g.frags[len(g.frags)-1].end > end) {
			f.stats.Overlapping++
			f.drop(g)
			return nil, 0, 0, false
		}
		g.total = end
	case g.total >= 0 && end > g.total:
		f.stats.Overlapping++
		f.drop(g)
		return nil, 0, 0, false
	}
	if len(g.frags) >= f.opts.MaxFragments {
		f.stats.TooMany++
		f.drop(g)
		return nil, 0, 0, false
	}
	// Make room over all datagrams, oldest first.
	for f.held+captured > f.opts.MaxBytes && f.head.next != g {
		f.stats.Evicted++
		f.drop(f.head.next)
	}
	if f.held+captured > f.opts.MaxBytes {
		f.stats.Evicted++
		f.drop(g)
		return nil, 0, 0, false
	}
	off := len(g.data)
	g.data = append(g.data, fr.Payload[:captured]...)
	f.held += captured
	f.stats.PeakBytes = max(f.stats.PeakBytes, int64(f.held))
	g.frags = append(g.frags, fragRange{})
	copy(g.frags[i+1:], g.frags[i:])
	g.frags[i] = fragRange{start: start, end: end, off: off, n: captured}
	g.have += length
	if start == 0 && fr.HasProto {
		g.proto, g.haveProto = fr.Proto, true
	}
	if g.total < 0 || g.have != g.total {
		return nil, 0, 0, false
	}
	// Complete: assemble the captured bytes up to the first one missing.
	out := f.out[:0]
	cut := false
	for _, r := range g.frags {
		if !cut {
			out = append(out, g.data[r.off:r.off+r.n]...)
		}
		if r.n < r.end-r.start {
			cut = true
		}
	}
	f.out = out
	missing = g.total - len(out)
	proto = g.proto
	ok := g.haveProto
	f.stats.Datagrams++
	f.stats.CutBytes += int64(missing)
	f.drop(g)
	if !ok {
		return nil, 0, 0, false
	}
	return out, missing, proto, true
}

func (f *Defragmenter) newDatagram(k Key, now time.Time) *datagram {
	var g *datagram
	if n := len(f.free); n > 0 {
		g, f.free = f.free[n-1], f.free[:n-1]
	} else {
		g = new(datagram)
	}
	g.key, g.first, g.total = k, now, -1
	f.dgs[k] = g
	g.prev, g.next = f.head.prev, &f.head
	f.head.prev.next = g
	f.head.prev = g
	return g
}

// drop forgets a datagram; its memory is kept for the next one (up to a
// few, and never a large buffer).
func (f *Defragmenter) drop(g *datagram) {
	delete(f.dgs, g.key)
	g.prev.next = g.next
	g.next.prev = g.prev
	f.held -= len(g.data)
	data, frags := g.data[:0], g.frags[:0]
	if cap(data) > 16<<10 {
		data = nil
	}
	*g = datagram{data: data, frags: frags}
	if len(f.free) < 64 {
		f.free = append(f.free, g)
	}
}

// Stats returns what the Defragmenter did so far.
func (f *Defragmenter) Stats() Stats {
	s := f.stats
	s.Pending = int64(len(f.dgs))
	s.HeldBytes = int64(f.held)
	return s
}

// Reassembling reports whether datagram k is held, waiting for more of its
// fragments: false once it completed or was given up (expired, evicted,
// overlapping, too many fragments).
func (f *Defragmenter) Reassembling(k Key) bool { return f.dgs[k] != nil }
