package reassembly

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wscap/wscap/pcap"
	"github.com/wscap/wscap/stream"
)

// recorder is a stream.Factory whose Streams write what reassembly tells
// them as short lines (or only count the calls when quiet). Its Streams
// scribble over the bytes they are handed, as stream.Stream.Data allows,
// so that nothing in reassembly relies on delivered bytes staying intact.
type recorder struct {
	lines   []string
	firsts  []stream.Pos // stream.Conn.First of each stream
	quiet   bool
	n       int
	streams int
	// inactive, when set, makes stream #id report itself inactive once it
	// was handed that many bytes.
	inactive map[int]int
}

func (r *recorder) NewStream(c stream.Conn) stream.Stream {
	r.streams++
	r.firsts = append(r.firsts, c.First)
	f := &fake{r: r, id: r.streams}
	how := "mid-stream"
	if c.Opened {
		how = "opened"
	}
	if c.Continues {
		how += ", continues"
	}
	f.log("new %s-%s %s", c.Client, c.Server, how)
	return f
}

type fake struct {
	r     *recorder
	id    int
	bytes int
	ended bool
}

func (f *fake) log(format string, args ...any) {
	f.r.n++
	if f.ended {
		f.r.lines = append(f.r.lines, fmt.Sprintf("#%d called after End", f.id))
	}
	if !f.r.quiet {
		f.r.lines = append(f.r.lines, fmt.Sprintf("#%d ", f.id)+fmt.Sprintf(format, args...))
	}
}

func (f *fake) Data(dir stream.Direction, p stream.Pos, b []byte) {
	if f.r.quiet { // no boxing of b: TestInOrderAllocs counts allocations
		f.r.n++
	} else {
		f.log("%s %q", dir, b)
	}
	f.bytes += len(b)
	for i := range b {
		b[i] = '#'
	}
}

func (f *fake) Gap(dir stream.Direction, p stream.Pos, n int64) { f.log("%s gap %d", dir, n) }
func (f *fake) Truncated(dir stream.Direction, p stream.Pos, n int64) {
	f.log("%s cut %d", dir, n)
}
func (f *fake) Overlap(dir stream.Direction, p stream.Pos, n int64) {
	f.log("%s overlap %d", dir, n)
}
func (f *fake) BufferCapped(dir stream.Direction, p stream.Pos, n, limit int64, total bool) {
	f.log("%s capped %d limit %d total %v", dir, n, limit, total)
}

func (f *fake) Active() bool {
	n, ok := f.r.inactive[f.id]
	return !ok || f.bytes < n
}

func (f *fake) Prefetch(bool) {}

// End claims the streams that were handed bytes.
func (f *fake) End(p stream.Pos, reason stream.EndReason) bool {
	f.log("end %s", reason)
	f.ended = true
	return f.bytes > 0
}

var (
	client  = netip.MustParseAddrPort("198.18.0.1:40000")
	client2 = netip.MustParseAddrPort("198.18.0.2:40000")
	server  = netip.MustParseAddrPort("192.0.2.1:80")
)

// The opening bytes of each test connection.
const (
	request  = "req"
	response = "resp"
)

// text is a chunk of stream bytes.
func text(s string) []byte { return []byte(s) }

// peer sends the segments of one side of a test connection.
type peer struct {
	src, dst netip.AddrPort
	seq      uint32
}

// harness drives an Assembler packet by packet.
type harness struct {
	t   *testing.T
	rec recorder
	a   *Assembler
	n   uint64
	ts  time.Time
	c   map[netip.AddrPort]*peer // by source
}

func newHarness(t *testing.T, o Options) *harness {
	h := &harness{t: t, ts: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), c: map[netip.AddrPort]*peer{}}
	h.a = New(&h.rec, o)
	return h
}

// open starts a connection from cl to sv with the given ISNs: the TCP
// handshake, then a request and a response.
func (h *harness) open(cl, sv netip.AddrPort, isnC, isnS uint32) {
	h.c[cl] = &peer{cl, sv, isnC}
	h.c[sv] = &peer{sv, cl, isnS}
	h.send(cl, pcap.FlagSYN, nil)
	h.send(sv, pcap.FlagSYN|pcap.FlagACK, nil)
	h.send(cl, pcap.FlagACK, nil)
	h.send(cl, pcap.FlagACK|pcap.FlagPSH, []byte(request))
	h.send(sv, pcap.FlagACK|pcap.FlagPSH, []byte(response))
}

// packet feeds one segment from src at sequence number seq (whatever the
// sender's state), acknowledging everything the peer sent so far.
func (h *harness) packet(src netip.AddrPort, seq uint32, flags uint8, payload []byte) {
	p := h.c[src]
	h.n++
	h.ts = h.ts.Add(time.Millisecond)
	seg := pcap.Segment{Src: p.src, Dst: p.dst, Seq: seq, Ack: h.c[p.dst].seq, Flags: flags, Payload: slices.Clone(payload)}
	h.a.Packet(stream.Pos{Pkt: h.n, TS: h.ts}, &seg)
}

// send feeds the sender's next segment.
func (h *harness) send(src netip.AddrPort, flags uint8, payload []byte) uint32 {
	p := h.c[src]
	seq := p.seq
	h.packet(src, seq, flags, payload)
	p.seq += uint32(len(payload))
	if flags&(pcap.FlagSYN|pcap.FlagFIN) != 0 {
		p.seq++
	}
	return seq
}

// skip advances the sender's sequence number as if it had sent b unseen.
func (h *harness) skip(src netip.AddrPort, b []byte) uint32 {
	p := h.c[src]
	seq := p.seq
	p.seq += uint32(len(b))
	return seq
}

func (h *harness) close(cl, sv netip.AddrPort) {
	h.send(sv, pcap.FlagFIN|pcap.FlagACK, nil)
	h.send(cl, pcap.FlagFIN|pcap.FlagACK, nil)
	h.send(sv, pcap.FlagACK, nil)
}

func (h *harness) check(want ...string) {
	h.t.Helper()
	h.a.Flush(stream.Pos{Pkt: h.n, TS: h.ts})
	if !slices.Equal(h.rec.lines, want) {
		h.t.Errorf("events\n got:\n\t%s\nwant:\n\t%s", strings.Join(h.rec.lines, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// opening is what a Stream opened by harness.open is told first.
func opening(id int, cl, sv netip.AddrPort) []string {
	return []string{fmt.Sprintf("#%d new %s-%s opened", id, cl, sv), fmt.Sprintf("#%d client %q", id, request), fmt.Sprintf("#%d server %q", id, response)}
}

// then appends lines to the lines of opening.
func then(open []string, lines ...string) []string { return append(open, lines...) }

// TestRetransmissionCompared: a retransmission of delivered bytes is
// compared with the window of unacknowledged bytes, not after the ACK,
// not without a window.
func TestRetransmissionCompared(t *testing.T) {
	for _, tc := range []struct {
		name     string
		o        Options
		ackFirst bool
		want     []string
	}{
		{"unacknowledged", Options{}, false, then(opening(1, client, server), `#1 server "hello"`, "#1 server overlap 1", `#1 server "world"`, "#1 end fin")},
		{"acknowledged", Options{}, true, then(opening(1, client, server), `#1 server "hello"`, `#1 server "world"`, "#1 end fin")},
		{"no window", Options{OverlapWindow: -1}, false, then(opening(1, client, server), `#1 server "hello"`, `#1 server "world"`, "#1 end fin")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.o)
			h.open(client, server, 1000, 5000)
			seq := h.send(server, pcap.FlagACK, text("hello"))
			if tc.ackFirst {
				h.send(client, pcap.FlagACK, nil)
			}
			h.packet(server, seq, pcap.FlagACK, text("hellO"))
			h.packet(server, seq, pcap.FlagACK, text("hello")) // the same: nothing
			h.send(server, pcap.FlagACK, text("world"))
			h.close(client, server)
			h.check(tc.want...)
		})
	}
}

// TestSequenceWraparound: both directions cross 2^32 while data is
// reordered and retransmitted.
func TestSequenceWraparound(t *testing.T) {
	h := newHarness(t, Options{})
	// The server's ISN puts the wrap inside the second frame; the
	// client's inside the request.
	h.open(client, server, 0xffffffff-40, 0xffffffff-uint32(len(response))-3)
	a, b, c := text("first"), text("second"), text("third")
	sa := h.skip(server, a)
	sb := h.skip(server, b)
	sc := h.skip(server, c)
	h.packet(server, sc, pcap.FlagACK, c) // out of order, across the wrap
	h.packet(server, sb, pcap.FlagACK, b)
	h.packet(server, sa, pcap.FlagACK, a)
	h.packet(server, sb, pcap.FlagACK, b) // retransmitted after delivery
	h.close(client, server)
	h.check(then(opening(1, client, server), `#1 server "first"`, `#1 server "second"`, `#1 server "third"`, "#1 end fin")...)
}

// TestBefore: sequence numbers before next by 1 to 2^31 bytes, across
// the wrap; next itself and those after it are not.
func TestBefore(t *testing.T) {
	for _, c := range []struct {
		seq, next uint32
		d         int64
		ok        bool
	}{
		{99, 100, 1, true},
		{100, 100, 0, false},
		{101, 100, 0, false},
		{0xffffffff, 5, 6, true},
		{5, 0xffffffff, 0, false},
		{100, 100 + 1<<31, 1 << 31, true}, // exactly half the space: before, as seqAfter has it
		{100, 100 + 1<<31 - 1, 1<<31 - 1, true},
		{100, 100 + 1<<31 + 1, 0, false}, // after by 2^31-1
	} {
		d, ok := before(c.seq, c.next)
		if ok != c.ok || ok && d != c.d {
			t.Errorf("before(%d, %d) = %d, %v; want %d, %v", c.seq, c.next, d, ok, c.d, c.ok)
		}
		// before and seqAfter agree: every other number is one or the other.
		if c.seq != c.next && ok == seqAfter(c.seq, c.next) {
			t.Errorf("before(%d, %d) = %v, seqAfter(seq, next) = %v", c.seq, c.next, ok, seqAfter(c.seq, c.next))
		}
	}
}

// TestHalfSpaceAway: a segment exactly 2^31 bytes from the next expected
// one is neither before nor after it (RFC 1982): it is taken as old, never
// buffered out of every hole's reach (which made the end of the connection
// loop forever, found by FuzzPipeline), and the stream goes on.
func TestHalfSpaceAway(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fresh bool // in-order data follows the stale segment
		fin   bool // the connection closes (or the capture ends)
	}{{"fin", false, true}, {"flush", false, false}, {"data then fin", true, true}, {"data then flush", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			done := make(chan struct{})
			go func() { // the end looped forever: give up on it after a while
				defer close(done)
				h.open(client, server, 1000, 5000)
				next := h.c[server].seq
				h.packet(server, next-1<<31, pcap.FlagACK, text("stale"))
				h.packet(server, next-1<<31, pcap.FlagACK, text("stale")) // again
				want := opening(1, client, server)
				if tc.fresh {
					h.send(server, pcap.FlagACK, text("fresh"))
					want = append(want, `#1 server "fresh"`)
				}
				if tc.fin {
					h.close(client, server)
					want = append(want, "#1 end fin")
				} else {
					want = append(want, "#1 end end-of-capture")
				}
				h.check(want...)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the connection never ended")
			}
			if st := h.a.Stats(); st.Retransmitted != 2 {
				t.Errorf("%d segments counted as retransmitted, want the 2 stale ones", st.Retransmitted)
			}
		})
	}
}

// TestPortReuse: a new SYN on a finished 4-tuple starts a new connection,
// also with a sequence number close to the old one's.
func TestPortReuse(t *testing.T) {
	h := newHarness(t, Options{})
	h.open(client, server, 1000, 5000)
	h.send(server, pcap.FlagACK, text("one"))
	h.close(client, server)
	h.open(client, server, 1000+200, 9000) // a new ISN (RFC 9293 §3.4.1)
	h.send(server, pcap.FlagACK, text("two"))
	h.close(client, server)
	h.open(client, server, 77, 1)
	h.send(server, pcap.FlagACK, text("three"))
	// #3 is abandoned without FIN or RST; a SYN with a new ISN replaces it,
	// a copy of its own SYN does not.
	h.packet(client, 77, pcap.FlagSYN, nil)
	h.open(client, server, 5555, 6666)
	h.send(server, pcap.FlagACK, text("four"))
	var want []string
	for i, msg := range []string{"one", "two", "three", "four"} {
		end := [...]string{"fin", "fin", "idle-timeout", "end-of-capture"}[i]
		want = append(want, then(opening(i+1, client, server), fmt.Sprintf("#%d server %q", i+1, msg), fmt.Sprintf("#%d end %s", i+1, end))...)
	}
	h.check(want...)
}

// TestBufferCaps: out-of-order data over a cap makes the reassembly give
// up on the hole before it, with a finding, per connection and in total.
func TestBufferCaps(t *testing.T) {
	t.Run("per connection", func(t *testing.T) {
		// A buffered segment costs its bytes and segCost.
		h := newHarness(t, Options{MaxBuffered: 8 + 2*segCost})
		h.open(client, server, 1000, 5000)
		h.skip(server, text("lost"))
		h.send(server, 0, text("abc"))    // 3 bytes buffered
		h.send(server, 0, text("defghi")) // 6 more: over 8
		h.close(client, server)
		h.check(then(opening(1, client, server),
			fmt.Sprintf("#1 server capped 4 limit %d total false", 8+2*segCost),
			"#1 server gap 4",
			`#1 server "abc"`, `#1 server "defghi"`, "#1 end fin")...)
		if st := h.a.Stats(); st.CapDropped != 1 || st.Gaps != 1 || st.GapBytes != 4 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("total", func(t *testing.T) {
		h := newHarness(t, Options{MaxBufferedTotal: 9 + 2*segCost})
		other := netip.MustParseAddrPort("192.0.2.2:80")
		h.open(client, server, 1000, 5000)
		h.open(client2, other, 1000, 5000)
		h.skip(server, text("lost"))
		h.send(server, 0, text("abcdefgh")) // 8 bytes buffered for #1
		h.skip(other, text("x"))
		// #2: 2 more bytes go over the total; #2 holds nothing to give up,
		// so the hole and the segment are lost.
		h.send(other, 0, text("yz"))
		want := append(opening(1, client, server), opening(2, client2, other)...)
		h.check(append(want,
			fmt.Sprintf("#2 server capped 3 limit %d total true", 9+2*segCost),
			"#2 server gap 3",
			"#1 server gap 4",
			`#1 server "abcdefgh"`,
			"#1 end end-of-capture",
			"#2 end end-of-capture")...)
	})
}

// TestWindowsCapped: without a free window a direction is not compared.
func TestWindowsCapped(t *testing.T) {
	h := newHarness(t, Options{OverlapWindow: 4096, OverlapWindowTotal: 4096})
	other := netip.MustParseAddrPort("192.0.2.2:80")
	h.open(client, server, 1000, 5000) // the client's request takes the only window
	h.open(client2, other, 1000, 5000)
	if st := h.a.Stats(); st.WindowsDenied == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWindow(t *testing.T) {
	w := &window{buf: make([]byte, 8)}
	base := uint32(0xfffffffc) // the ring wraps with the sequence numbers
	w.add(base, []byte("abcdef"))
	if n := w.differ(base, []byte("abcdef")); n != 0 {
		t.Fatalf("differ %d", n)
	}
	if n := w.differ(base+2, []byte("XdY")); n != 2 {
		t.Fatalf("differ %d", n)
	}
	w.add(base+6, []byte("ghijk")) // keeps "defghijk"
	if w.n != 8 || w.differ(base, []byte("ABCDEFGHIJK")) != 8 {
		t.Fatalf("n %d differ %d", w.n, w.differ(base, []byte("ABCDEFGHIJK")))
	}
	if w.trim(base+9) || w.n != 2 || w.differ(base+9, []byte("jK")) != 1 {
		t.Fatalf("trim: n %d", w.n)
	}
	w.add(base+20, []byte("zz")) // after a gap: starts again
	if w.n != 2 || w.differ(base+11, []byte("k")) != 0 {
		t.Fatalf("gap: n %d", w.n)
	}
	if !w.trim(base + 22) {
		t.Fatal("all acknowledged")
	}
}

// TestInOrderAllocs: in-order delivery, ACKs and the overlap window
// allocate nothing per packet once a connection is set up.
func TestInOrderAllocs(t *testing.T) {
	h := newHarness(t, Options{})
	h.open(client, server, 1000, 5000)
	h.rec.quiet = true
	frame := text("0123456789")
	seg := pcap.Segment{Src: server, Dst: client, Flags: pcap.FlagACK, Payload: frame}
	ack := pcap.Segment{Src: client, Dst: server, Flags: pcap.FlagACK}
	seq := h.c[server].seq
	pos := stream.Pos{Pkt: 100, TS: h.ts}
	n := testing.AllocsPerRun(1000, func() {
		seg.Seq, seg.Payload = seq, frame
		h.a.Packet(pos, &seg)
		seq += uint32(len(frame))
		ack.Seq, ack.Ack = h.c[client].seq, seq
		h.a.Packet(pos, &ack)
	})
	if n != 0 || h.rec.n < 1000 {
		t.Fatalf("%.1f allocations per segment (%d events)", n, h.rec.n)
	}
}

// BenchmarkInOrder is the per-segment cost of in-order delivery: a data
// segment carrying one small frame and its ACK.
func BenchmarkInOrder(b *testing.B) {
	t := &testing.T{}
	h := newHarness(t, Options{})
	h.open(client, server, 1000, 5000)
	h.rec.quiet = true
	frame := text("0123456789")
	seg := pcap.Segment{Src: server, Dst: client, Flags: pcap.FlagACK, Payload: frame}
	ack := pcap.Segment{Src: client, Dst: server, Flags: pcap.FlagACK}
	seq := h.c[server].seq
	pos := stream.Pos{Pkt: 100, TS: h.ts}
	b.ReportAllocs()
	for b.Loop() {
		seg.Seq, seg.Payload = seq, frame
		h.a.Packet(pos, &seg)
		seq += uint32(len(frame))
		ack.Seq, ack.Ack = h.c[client].seq, seq
		h.a.Packet(pos, &ack)
	}
}

// TestTombstone: packets after a connection finished count with it until
// tombstoneTTL has passed; after that the 4-tuple is a new connection.
func TestTombstone(t *testing.T) {
	h := newHarness(t, Options{})
	h.open(client, server, 1000, 5000)
	h.send(server, pcap.FlagACK, text("one"))
	h.close(client, server)
	h.send(client, pcap.FlagACK, nil) // a late duplicate ACK
	if s := h.a.Stats(); s.Connections != 1 || s.ClaimedPackets != 10 || s.OtherPackets != 0 || h.a.Open() != 1 {
		t.Fatalf("after the late ACK: %+v, %d tracked", s, h.a.Open())
	}
	h.ts = h.ts.Add(tombstoneTTL)
	h.a.Tick(stream.Pos{Pkt: h.n, TS: h.ts})
	if h.a.Open() != 1 {
		t.Fatalf("forgotten before tombstoneTTL since its last packet")
	}
	h.ts = h.ts.Add(time.Second)
	h.a.Tick(stream.Pos{Pkt: h.n, TS: h.ts})
	if h.a.Open() != 0 {
		t.Fatalf("%d connections still tracked after tombstoneTTL", h.a.Open())
	}
	// A new connection, of one pure ACK: it carries nothing, so it gets
	// no Stream (a half-open entry, ended empty at the end).
	h.send(client, pcap.FlagACK, nil)
	h.check(then(opening(1, client, server), `#1 server "one"`, "#1 end fin")...)
	if s := h.a.Stats(); s.Connections != 2 || s.ClaimedPackets != 10 || s.OtherPackets != 1 || s.EmptyConns != 1 {
		t.Fatalf("after expiry: %+v", s)
	}
}

// TestEvictsQuietest: over MaxConns, the connection whose last packet is the
// oldest is ended, however often the others spoke.
func TestEvictsQuietest(t *testing.T) {
	h := newHarness(t, Options{MaxConns: 3})
	peers := make([]netip.AddrPort, 5)
	for i := range peers {
		peers[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 1, byte(i)}), 40000)
	}
	h.open(peers[0], server, 100, 200) // #1
	h.open(peers[1], server, 100, 200) // #2
	h.open(peers[2], server, 100, 200) // #3
	h.send(peers[0], pcap.FlagACK, nil)
	h.send(peers[1], pcap.FlagACK, nil)
	h.send(peers[0], pcap.FlagACK, nil)
	h.open(peers[3], server, 100, 200) // #4 evicts #3
	h.send(peers[1], pcap.FlagACK, nil)
	h.open(peers[4], server, 100, 200) // #5 evicts #1
	h.a.Flush(stream.Pos{Pkt: h.n, TS: h.ts})
	h.rec.lines = slices.DeleteFunc(h.rec.lines, func(l string) bool { return !strings.Contains(l, " end ") })
	h.check("#3 end evicted", "#1 end evicted", "#2 end end-of-capture", "#4 end end-of-capture", "#5 end end-of-capture")
	if s := h.a.Stats(); s.Evicted != 2 {
		t.Errorf("evicted %d, want 2", s.Evicted)
	}
}

// TestEvictionOrder: with random activity, connections are evicted in the
// order of their last packet, whether the cap is reached soon (the lru is
// kept from the start) or late (it is built when half the cap is live).
func TestEvictionOrder(t *testing.T) {
	for _, maxConns := range []int{2, 5, 16} {
		r := rand.New(rand.NewPCG(uint64(maxConns), 7))
		h := newHarness(t, Options{MaxConns: maxConns})
		var peers []netip.AddrPort
		last := map[int]uint64{} // live connection (1-based) -> its last packet
		var want []string
		// Connections opened, then active in another order, before the
		// lru is built.
		for range maxConns/2 - 1 {
			peers = append(peers, netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(len(peers) >> 8), byte(len(peers))}), 40000))
			h.open(peers[len(peers)-1], server, 100, 200)
			last[len(peers)] = h.n
		}
		for _, i := range r.Perm(len(peers)) {
			h.send(peers[i], pcap.FlagACK, nil)
			last[i+1] = h.n
		}
		for range 300 {
			if len(peers) < 200 && (len(last) == 0 || r.IntN(3) == 0) {
				if len(last) >= maxConns {
					q := -1
					for id, p := range last {
						if q < 0 || p < last[q] {
							q = id
						}
					}
					want = append(want, fmt.Sprintf("#%d end evicted", q))
					delete(last, q)
				}
				peers = append(peers, netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(len(peers) >> 8), byte(len(peers))}), 40000))
				h.open(peers[len(peers)-1], server, 100, 200)
				last[len(peers)] = h.n
				continue
			}
			ids := slices.Sorted(maps.Keys(last))
			id := ids[r.IntN(len(ids))]
			h.send(peers[id-1], pcap.FlagACK, nil)
			last[id] = h.n
		}
		h.a.Flush(stream.Pos{Pkt: h.n, TS: h.ts})
		var got []string
		for _, l := range h.rec.lines {
			if strings.HasSuffix(l, "end evicted") {
				got = append(got, l)
			}
		}
		if !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("MaxConns %d: evicted\n%v\nwant\n%v", maxConns, got, want)
		}
	}
}

// TestKeyOf: both directions of a connection have one key and hash; any
// other endpoint pair has another.
func TestKeyOf(t *testing.T) {
	ap := netip.MustParseAddrPort
	pairs := [][2]netip.AddrPort{
		{ap("198.18.0.1:40000"), ap("192.0.2.1:80")},
		{ap("198.18.0.1:80"), ap("192.0.2.1:40000")},
		{ap("192.0.2.1:80"), ap("192.0.2.1:81")},
		{ap("192.0.2.1:80"), ap("192.0.2.1:80")},
		{ap("[2001:db8::1]:443"), ap("[2001:db8::2]:5000")},
		{ap("[2001:db8::2]:443"), ap("[2001:db8::1]:5000")},
		{ap("[::ffff:192.0.2.1]:80"), ap("192.0.2.2:80")},
		{ap("[::ffff:192.0.2.1]:80"), ap("[::ffff:192.0.2.2]:80")},
		{ap("192.0.2.1:80"), ap("192.0.2.2:80")},
	}
	seen := map[uint64]int{}
	for i, p := range pairs {
		k1 := KeyOf(&pcap.Segment{Src: p[0], Dst: p[1]})
		k2 := KeyOf(&pcap.Segment{Src: p[1], Dst: p[0]})
		h1, h2 := k1.Hash(), k2.Hash()
		if k1.k != k2.k || h1 != h2 || (k1.srcLo == k2.srcLo) != (p[0] == p[1]) {
			t.Errorf("%v: the two directions differ: %v/%x, %v/%x", p, k1, h1, k2, h2)
		}
		if j, ok := seen[h1]; ok {
			t.Errorf("%v has the hash of %v", p, pairs[j])
		}
		seen[h1] = i
	}
}

// BenchmarkKeyOf is the per-packet cost of the flow key (the reader
// computes it for every packet): 1,024 segments of IPv4 and IPv6
// connections, each direction in random order, as in a capture.
func BenchmarkKeyOf(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	segs := make([]pcap.Segment, 1024)
	for i := range segs {
		cl := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(r.IntN(8))}), uint16(30000+r.IntN(30000)))
		sv := netip.MustParseAddrPort("192.0.2.3:80")
		if i%4 == 0 {
			cl = netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0xd, 0xb8, 15: byte(r.IntN(8))}), cl.Port())
			sv = netip.MustParseAddrPort("[2001:db8::2]:443")
		}
		if r.IntN(2) == 0 {
			cl, sv = sv, cl
		}
		segs[i] = pcap.Segment{Src: cl, Dst: sv}
	}
	var sink uint64
	for i := 0; b.Loop(); i++ {
		var k FlowKey
		k.Set(&segs[i&1023])
		sink += k.Hash()
	}
	_ = sink
}

// TestStreamCalls: what a Stream is told about the beginning of a
// connection, snaplen cuts, and what happens once it is no longer active.
func TestStreamCalls(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(h *harness)
		want []string
		o    Options
	}{
		{"idle, then more", func(h *harness) {
			h.open(client, server, 1000, 5000)
			h.send(server, pcap.FlagACK, text("one"))
			h.ts = h.ts.Add(3 * time.Second)
			h.a.Tick(stream.Pos{Pkt: h.n, TS: h.ts})
			h.send(server, pcap.FlagACK, text("two")) // the same connection, after the idle timeout
		}, then(opening(1, client, server), `#1 server "one"`, "#1 end idle-timeout",
			"#2 new 192.0.2.1:80-198.18.0.1:40000 mid-stream, continues", `#2 client "two"`, "#2 end end-of-capture"), Options{IdleTimeout: time.Second}},
		{"mid-stream", func(h *harness) {
			h.c[client] = &peer{client, server, 100}
			h.c[server] = &peer{server, client, 900}
			h.send(server, pcap.FlagACK, text("late"))
			h.send(client, pcap.FlagACK, text("reply"))
		}, []string{"#1 new 192.0.2.1:80-198.18.0.1:40000 mid-stream", `#1 client "late"`, `#1 server "reply"`, "#1 end end-of-capture"}, Options{}},
		{"SYN-ACK first", func(h *harness) {
			h.c[client] = &peer{client, server, 100}
			h.c[server] = &peer{server, client, 900}
			h.send(server, pcap.FlagSYN|pcap.FlagACK, nil)
			h.send(client, pcap.FlagACK, text("hi"))
		}, []string{"#1 new 198.18.0.1:40000-192.0.2.1:80 opened", `#1 client "hi"`, "#1 end end-of-capture"}, Options{}},
		{"snaplen cut", func(h *harness) {
			h.open(client, server, 1000, 5000)
			p := h.c[server]
			h.n++
			seg := pcap.Segment{Src: server, Dst: client, Seq: p.seq, Flags: pcap.FlagACK, Payload: text("head"), Missing: 6}
			h.a.Packet(stream.Pos{Pkt: h.n, TS: h.ts}, &seg)
			p.seq += 10
			h.send(server, pcap.FlagACK, text("next"))
		}, then(opening(1, client, server), `#1 server "head"`, "#1 server cut 6", `#1 server "next"`, "#1 end end-of-capture"), Options{}},
		{"inactive", func(h *harness) {
			h.rec.inactive = map[int]int{1: len(request) + len(response) + 3}
			h.open(client, server, 1000, 5000)
			h.send(server, pcap.FlagACK, text("one"))
			h.send(server, pcap.FlagACK, text("two")) // not delivered
			h.skip(server, text("lost"))
			h.send(server, pcap.FlagACK, text("three")) // neither buffered nor delivered
			h.close(client, server)
		}, then(opening(1, client, server), `#1 server "one"`, "#1 end fin"), Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.o)
			tc.run(h)
			h.check(tc.want...)
			if st := h.a.Stats(); tc.name == "inactive" && st.OutOfOrder != 0 {
				t.Errorf("an inactive stream's data was buffered: %+v", st)
			}
		})
	}
}

// TestReorderedPieces: a stream sent as pieces of 1-8 bytes in random
// order, some sent twice and some overlapping others, across the wrap of
// the sequence numbers, comes out whole and without a conflict.
func TestReorderedPieces(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		reverse bool
		seed    uint64
	}{
		{"reversed", 3000, true, 1},
		{"shuffled", 3000, false, 1},
		{"shuffled again", 5000, false, 2},
		{"one piece", 1, false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, 7))
			want := make([]byte, tc.n)
			for i := range want {
				want[i] = byte('a' + rng.IntN(26))
			}
			type piece struct{ off, n int }
			var pieces []piece
			for off := 0; off < tc.n; {
				n := min(1+rng.IntN(8), tc.n-off)
				pieces = append(pieces, piece{off, n})
				if rng.IntN(4) == 0 { // a copy, or one that overlaps the next piece
					pieces = append(pieces, piece{off, min(n+rng.IntN(8), tc.n-off)})
				}
				off += n
			}
			if tc.reverse {
				slices.Reverse(pieces)
			} else {
				rng.Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
			}
			h := newHarness(t, Options{})
			isn := uint32(0xffffffff) - uint32(tc.n/2) // the stream wraps half way
			h.open(client, server, 1000, isn)
			base := h.c[server].seq
			for _, p := range pieces {
				h.packet(server, base+uint32(p.off), 0, want[p.off:p.off+p.n])
			}
			h.a.Flush(stream.Pos{Pkt: h.n + 1, TS: h.ts})
			var got []byte
			for _, l := range h.rec.lines {
				if q, ok := strings.CutPrefix(l, "#1 server "); ok && strings.HasPrefix(q, `"`) {
					s, err := strconv.Unquote(q)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, s...)
				}
			}
			got = bytes.TrimPrefix(got, []byte(response))
			if !bytes.Equal(got, want) {
				t.Errorf("delivered %d bytes, want %d (equal prefix %d)", len(got), len(want), commonPrefix(got, want))
			}
			if st := h.a.Stats(); st.Conflicts != 0 || st.Gaps != 0 || h.a.buffered != 0 {
				t.Errorf("stats %+v, %d bytes still counted buffered", st, h.a.buffered)
			}
		})
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// BenchmarkReversedSegments: one connection's n one-byte segments in
// reverse order, all buffered until the first comes (O(n log n)).
func BenchmarkReversedSegments(b *testing.B) {
	for _, n := range []int{25000, 50000, 100000, 200000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			payload := []byte{'x'}
			for b.Loop() {
				a := New(nopFactory{}, Options{MaxBuffered: 64 << 20})
				src := netip.MustParseAddrPort("192.0.2.1:80")
				dst := netip.MustParseAddrPort("198.18.0.1:40000")
				a.Packet(stream.Pos{Pkt: 1}, &pcap.Segment{Src: src, Dst: dst, Seq: 0, Flags: pcap.FlagSYN | pcap.FlagACK})
				for i := n; i >= 1; i-- {
					a.Packet(stream.Pos{Pkt: uint64(n - i + 2)}, &pcap.Segment{Src: src, Dst: dst, Seq: uint32(i), Payload: payload})
				}
				if a.buffered != 0 {
					b.Fatalf("%d bytes still buffered", a.buffered)
				}
			}
		})
	}
}

type nopFactory struct{}

func (nopFactory) NewStream(stream.Conn) stream.Stream { return nopStream{} }

type nopStream struct{}

func (nopStream) Data(stream.Direction, stream.Pos, []byte)                     {}
func (nopStream) Gap(stream.Direction, stream.Pos, int64)                       {}
func (nopStream) Truncated(stream.Direction, stream.Pos, int64)                 {}
func (nopStream) Overlap(stream.Direction, stream.Pos, int64)                   {}
func (nopStream) BufferCapped(stream.Direction, stream.Pos, int64, int64, bool) {}
func (nopStream) Active() bool                                                  { return true }
func (nopStream) Prefetch(bool)                                                 {}
func (nopStream) End(stream.Pos, stream.EndReason) bool                         { return false }
