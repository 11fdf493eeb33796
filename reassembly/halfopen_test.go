package reassembly

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/wscap/wscap/pcap"
	"github.com/wscap/wscap/stream"
)

// TestHalfOpen: a connection that carries no byte is a half-open entry,
// not a Stream; the first packet that carries something makes it a Stream
// set up as if it had been one from its first packet.
func TestHalfOpen(t *testing.T) {
	const (
		ack = pcap.FlagACK
		syn = pcap.FlagSYN
	)
	other := netip.MustParseAddrPort("192.0.2.2:80")
	for _, tc := range []struct {
		name   string
		opts   Options
		script func(h *harness)
		lines  []string
		firsts []uint64 // the packet number of each Stream's first packet
		stats  Stats    // the fields compared: those below
	}{
		{"a SYN only", Options{},
			func(h *harness) { h.send(client, syn, nil) },
			nil, nil, Stats{Connections: 1, OtherPackets: 1, HalfOpen: 1, EmptyConns: 1}},
		{"a handshake only", Options{},
			func(h *harness) {
				h.send(client, syn, nil)
				h.send(server, syn|ack, nil)
				h.send(client, ack, nil)
				h.send(client, ack, nil)
			},
			nil, nil, Stats{Connections: 1, OtherPackets: 4, HalfOpen: 1, EmptyConns: 1}},
		{"a handshake, then data", Options{},
			func(h *harness) {
				h.send(client, syn, nil)
				h.send(server, syn|ack, nil)
				h.send(client, ack, nil)
				h.send(client, ack, text("req"))
			},
			[]string{"#1 new 198.18.0.1:40000-192.0.2.1:80 opened", `#1 client "req"`, "#1 end end-of-capture"},
			[]uint64{1}, Stats{Connections: 1, ClaimedPackets: 4, HalfOpen: 1, Promoted: 1}},
		{"a SYN-ACK first: its receiver is the client", Options{},
			func(h *harness) {
				h.send(server, syn|ack, nil)
				h.send(client, ack, nil)
				h.send(server, ack, text("hello"))
			},
			[]string{"#1 new 198.18.0.1:40000-192.0.2.1:80 opened", `#1 server "hello"`, "#1 end end-of-capture"},
			[]uint64{1}, Stats{Connections: 1, ClaimedPackets: 3, HalfOpen: 1, Promoted: 1}},
		{"pure ACKs mid-stream, then data", Options{},
			func(h *harness) {
				h.send(server, ack, nil)
				h.send(client, ack, nil)
				h.send(client, ack, text("x"))
			},
			// The client is the first packet's sender.
			[]string{"#1 new 192.0.2.1:80-198.18.0.1:40000 mid-stream", `#1 server "x"`, "#1 end end-of-capture"},
			[]uint64{1}, Stats{Connections: 1, ClaimedPackets: 3, HalfOpen: 1, Promoted: 1}},
		{"an ACK of bytes never seen is a gap", Options{},
			func(h *harness) {
				h.send(client, syn, nil)
				h.send(server, syn|ack, nil)
				h.skip(server, text("lost"))
				h.send(client, ack, nil)
			},
			[]string{"#1 new 198.18.0.1:40000-192.0.2.1:80 opened", "#1 server gap 4", "#1 end end-of-capture"},
			[]uint64{1}, Stats{Connections: 1, OtherPackets: 3, HalfOpen: 1, Promoted: 1, Gaps: 1, GapBytes: 4}},
		{"a RST", Options{},
			func(h *harness) {
				h.send(client, syn, nil)
				h.send(server, pcap.FlagRST|ack, nil)
			},
			[]string{"#1 new 198.18.0.1:40000-192.0.2.1:80 opened", "#1 end rst"},
			[]uint64{1}, Stats{Connections: 1, OtherPackets: 2, HalfOpen: 1, Promoted: 1}},
		{"a SYN with a new ISN reuses the 4-tuple", Options{},
			func(h *harness) {
				h.send(client, syn, nil)
				h.c[client].seq += 1000
				h.send(client, syn, nil)
				h.send(server, syn|ack, nil)
				h.send(client, ack, text("req"))
			},
			[]string{"#1 new 198.18.0.1:40000-192.0.2.1:80 opened", `#1 client "req"`, "#1 end end-of-capture"},
			[]uint64{2}, Stats{Connections: 2, ClaimedPackets: 3, OtherPackets: 1, HalfOpen: 2, Promoted: 1, EmptyConns: 1}},
		{"the same SYN again is the same connection", Options{},
			func(h *harness) {
				h.send(client, syn, nil)
				h.c[client].seq--
				h.send(client, syn, nil)
			},
			nil, nil, Stats{Connections: 1, OtherPackets: 2, HalfOpen: 1, EmptyConns: 1}},
		{"over MaxHalfOpen the oldest is forgotten", Options{MaxHalfOpen: 1},
			func(h *harness) {
				h.send(client, syn, nil)
				h.send(client2, syn, nil) // forgets the first
				h.send(server, syn|ack, nil)
				h.send(client, ack, text("req"))
			},
			// The SYN-ACK started a new entry, whose receiver is the client.
			[]string{"#1 new 198.18.0.1:40000-192.0.2.1:80 opened", `#1 client "req"`, "#1 end end-of-capture"},
			[]uint64{3}, Stats{Connections: 3, ClaimedPackets: 2, OtherPackets: 2, HalfOpen: 3, Promoted: 1, EmptyConns: 2, HalfOpenForgotten: 2}},
		{"half-open entries do not count against MaxConns", Options{MaxConns: 1},
			func(h *harness) {
				h.send(client, syn, nil)
				h.send(client, ack, text("req"))
				h.send(client2, syn, nil)
				h.c[client2].seq--
				h.send(client2, syn, nil) // the same again
			},
			[]string{"#1 new 198.18.0.1:40000-192.0.2.1:80 opened", `#1 client "req"`, "#1 end end-of-capture"},
			[]uint64{1}, Stats{Connections: 2, ClaimedPackets: 2, OtherPackets: 2, HalfOpen: 2, Promoted: 1, EmptyConns: 1}},
		{"the idle timeout ends half-open entries", Options{IdleTimeout: time.Second},
			func(h *harness) {
				h.send(client, syn, nil)
				h.ts = h.ts.Add(2 * time.Second)
				h.a.Tick(stream.Pos{Pkt: h.n, TS: h.ts})
				if n := len(h.a.halfOpen); n != 0 {
					h.t.Errorf("%d half-open entries after the idle timeout", n)
				}
				h.send(client, ack, text("req"))
			},
			[]string{"#1 new 198.18.0.1:40000-192.0.2.1:80 mid-stream", `#1 client "req"`, "#1 end end-of-capture"},
			[]uint64{2}, Stats{Connections: 2, ClaimedPackets: 1, OtherPackets: 1, HalfOpen: 1, EmptyConns: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts)
			h.c[client] = &peer{client, server, 1000}
			h.c[server] = &peer{server, client, 5000}
			h.c[client2] = &peer{client2, other, 3000}
			h.c[other] = &peer{other, client2, 7000}
			tc.script(h)
			h.check(tc.lines...)
			var firsts []uint64
			for _, p := range h.rec.firsts {
				firsts = append(firsts, p.Pkt)
			}
			if !slices.Equal(firsts, tc.firsts) {
				t.Errorf("first packets %v, want %v", firsts, tc.firsts)
			}
			st := h.a.Stats()
			got := Stats{Connections: st.Connections, ClaimedPackets: st.ClaimedPackets, OtherPackets: st.OtherPackets,
				HalfOpen: st.HalfOpen, Promoted: st.Promoted, EmptyConns: st.EmptyConns, HalfOpenForgotten: st.HalfOpenForgotten,
				Gaps: st.Gaps, GapBytes: st.GapBytes}
			if got != tc.stats {
				t.Errorf("stats\n%+v, want\n%+v", got, tc.stats)
			}
			if len(h.a.halfOpen) != 0 || h.a.Open() != 0 {
				t.Errorf("%d half-open, %d open after the flush", len(h.a.halfOpen), h.a.Open())
			}
		})
	}
}

// TestHalfOpenFirstTime: a promoted connection's first packet keeps its
// timestamp exactly, in UTC or in local time.
func TestHalfOpenFirstTime(t *testing.T) {
	for _, ts := range []time.Time{time.Unix(1700000000, 123456789), time.Unix(1700000000, 5).UTC()} {
		var rec recorder
		a := New(&rec, Options{})
		seg := pcap.Segment{Src: client, Dst: server, Seq: 1, Flags: pcap.FlagSYN}
		a.Packet(stream.Pos{File: 2, Pkt: 7, TS: ts}, &seg)
		seg = pcap.Segment{Src: client, Dst: server, Seq: 2, Flags: pcap.FlagACK, Payload: []byte("x")}
		a.Packet(stream.Pos{File: 2, Pkt: 8, TS: ts.Add(time.Second)}, &seg)
		if len(rec.firsts) != 1 || rec.firsts[0] != (stream.Pos{File: 2, Pkt: 7, TS: ts}) {
			t.Errorf("first %v, want %v", rec.firsts, fmt.Sprint(stream.Pos{File: 2, Pkt: 7, TS: ts}))
		}
	}
}

// TestHalfOpenOrderStaysSmall: entries promoted or ended leave stale refs
// in the order list; it is compacted so that it stays a few times the
// table.
func TestHalfOpenOrderStaysSmall(t *testing.T) {
	a := New(nopFactory{}, Options{})
	for i := range 100000 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 1000)
		a.Packet(stream.Pos{Pkt: uint64(2*i + 1)}, &pcap.Segment{Src: src, Dst: server, Seq: 1, Flags: pcap.FlagSYN})
		a.Packet(stream.Pos{Pkt: uint64(2*i + 2)}, &pcap.Segment{Src: src, Dst: server, Seq: 2, Flags: pcap.FlagACK | pcap.FlagRST})
	}
	if n := len(a.hoOrder) - a.hoHead; n > 3*len(a.halfOpen)+4096 || len(a.halfOpen) != 0 {
		t.Errorf("%d refs in the order list for %d half-open entries", n, len(a.halfOpen))
	}
}
