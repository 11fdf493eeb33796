package pcap

import (
	"encoding/binary"
	"time"
)

// IP reassembly (RFC 791 §2.3 and §3.2 for IPv4, RFC 8200 §4.5 for IPv6).
//
// The Decoder puts fragmented datagrams back together before TCP is
// decoded, so that everything after it (sharding, TCP reassembly) sees
// whole segments. It is our own rather than gopacket's ip4defrag/ip6defrag:
// those keep a pointer to the caller's layer and its payload (which a
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
// Decoder-owned buffer, valid until the next Decode.
//
// Rules, as Linux applies them (and gopacket's ip4defrag since v1.7): a
// fragment that repeats exactly the range of one already held is ignored;
// any other overlap, or fragments that disagree on where the datagram ends,
// drop the whole datagram (RFC 5722 for IPv6; Linux does the same for IPv4
// since 4.19, after FragmentSmack). A non-final fragment counts only whole
// 8-byte units. IPv4 fragments of other protocols than TCP are not
// reassembled (nothing after the decoder wants them); IPv6 fragments are,
// since only the first one names the protocol.

// DefragOptions bound the IP reassembly of a Decoder. Zero values take the
// defaults.
type DefragOptions struct {
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

func (o *DefragOptions) setDefaults() {
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

// DefragStats counts what IP reassembly did. Every fragment is counted in
// Fragments; each datagram that was started ends in exactly one of
// Datagrams, Overlapping, TooMany, Expired, Evicted or Pending.
type DefragStats struct {
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

type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8 // IPv4 only: fragments of one datagram share it
	v6       bool
}

// fragRange is one fragment held: datagram bytes [start, end) as declared,
// of which the first n were captured, stored at data[off:off+n].
type fragRange struct {
	start, end, off, n int
}

type datagram struct {
	key        fragKey
	first      time.Time // packet time of its first fragment
	frags      []fragRange
	data       []byte
	total      int // payload length, known from the final fragment; -1 before
	have       int // declared bytes held
	proto      uint8
	haveProto  bool
	prev, next *datagram // in order of first fragment
}

// fragment is one fragment as decoded from its IP header.
type fragment struct {
	key      fragKey
	start    int    // offset in the datagram's payload
	length   int    // declared payload bytes of this fragment
	more     bool   // more fragments follow (MF)
	payload  []byte // captured payload bytes (may be fewer than length)
	proto    uint8  // next header of the fragmentable part (IPv6: meaningful when start is 0)
	hasProto bool
}

// defragmenter reassembles IP datagrams.
type defragmenter struct {
	opts  DefragOptions
	dgs   map[fragKey]*datagram
	head  datagram // sentinel of the list, oldest first
	held  int      // bytes in datagrams' data
	free  []*datagram
	out   []byte // the last reassembled payload
	stats DefragStats
}

func (f *defragmenter) init(o DefragOptions) {
	o.setDefaults()
	f.opts = o
	f.dgs = make(map[fragKey]*datagram)
	f.head.next, f.head.prev = &f.head, &f.head
}

// expire drops the datagrams whose time is up at packet time now.
func (f *defragmenter) expire(now time.Time) {
	for g := f.head.next; g != &f.head && now.Sub(g.first) > f.opts.Timeout; g = f.head.next {
		f.stats.Expired++
		f.drop(g)
	}
}

// add takes one fragment received at packet time now. When it completes its
// datagram, add returns the datagram's payload (valid until the next call),
// how many of its bytes are missing at the end (snapshot length) and its
// protocol, with done set.
func (f *defragmenter) add(fr *fragment, now time.Time) (payload []byte, missing int, proto uint8, done bool) {
	f.stats.Fragments++
	start, length := fr.start, fr.length
	if fr.more {
		length &^= 7 // only whole 8-byte units count in a non-final fragment
	}
	end := start + length
	if length <= 0 || end > maxDatagram {
		f.stats.Invalid++
		return nil, 0, 0, false
	}
	captured := min(len(fr.payload), length)
	if start == 0 && !fr.more {
		// A whole datagram in one fragment (an IPv6 atomic fragment,
		// RFC 6946): nothing to keep. A held datagram with its Id stays.
		f.stats.Datagrams++
		return fr.payload[:captured], length - captured, fr.proto, true
	}
	g := f.dgs[fr.key]
	if g == nil {
		if len(f.dgs) >= f.opts.MaxDatagrams {
			f.stats.Evicted++
			f.drop(f.head.next)
		}
		g = f.newDatagram(fr.key, now)
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
	case !fr.more:
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
	g.data = append(g.data, fr.payload[:captured]...)
	f.held += captured
	f.stats.PeakBytes = max(f.stats.PeakBytes, int64(f.held))
	g.frags = append(g.frags, fragRange{})
	copy(g.frags[i+1:], g.frags[i:])
	g.frags[i] = fragRange{start: start, end: end, off: off, n: captured}
	g.have += length
	if start == 0 && fr.hasProto {
		g.proto, g.haveProto = fr.proto, true
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

func (f *defragmenter) newDatagram(k fragKey, now time.Time) *datagram {
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
func (f *defragmenter) drop(g *datagram) {
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

func (f *defragmenter) statsNow() DefragStats {
	s := f.stats
	s.Pending = int64(len(f.dgs))
	s.HeldBytes = int64(f.held)
	return s
}

// IPv6 extension headers (RFC 8200 §4) that may come before a Fragment
// header or the upper-layer header.
const (
	ip6HopByHop    = 0
	ip6Routing     = 43
	ip6Fragment    = 44
	ip6AH          = 51
	ip6DestOptions = 60
)

// skipIP6Ext walks the IPv6 extension headers at the start of b, whose first
// header is next, up to the first header that is not one (or a Fragment
// header when stopAtFragment). It returns that header's type and offset;
// ok is false when b ends inside an extension header.
func skipIP6Ext(next uint8, b []byte, stopAtFragment bool) (uint8, int, bool) {
	off := 0
	for range 16 {
		var n int
		switch next {
		case ip6HopByHop, ip6Routing, ip6DestOptions:
			if len(b)-off < 2 {
				return next, off, false
			}
			n = (int(b[off+1]) + 1) * 8
		case ip6AH:
			if len(b)-off < 2 {
				return next, off, false
			}
			n = (int(b[off+1]) + 2) * 4
		case ip6Fragment:
			if stopAtFragment {
				return next, off, true
			}
			n = 8
		default:
			return next, off, true
		}
		if len(b)-off < n {
			return next, off, false
		}
		next = b[off]
		off += n
	}
	return next, off, false
}

// fragment6 parses the IPv6 Fragment header at b[0:8]; the fragment's
// declared payload is length bytes, of which b[8:] was captured.
func fragment6(fr *fragment, b []byte, length int) bool {
	if len(b) < 8 {
		return false
	}
	fo := binary.BigEndian.Uint16(b[2:4])
	fr.proto = b[0]
	fr.hasProto = true
	fr.start = int(fo>>3) * 8
	fr.more = fo&1 != 0
	fr.key.id = binary.BigEndian.Uint32(b[4:8])
	fr.length = length
	fr.payload = b[8:]
	return true
}
