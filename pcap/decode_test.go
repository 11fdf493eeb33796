package pcap

import (
	"bytes"
	"encoding/binary"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wscap/wscap/internal/gen"
	"github.com/wscap/wscap/pcap/defrag"
)

// tcpPacket serialises a raw IPv4 or IPv6 packet carrying one TCP segment.
func tcpPacket(t testing.TB, v6 bool, id uint16, seq uint32, payload []byte) []byte {
	t.Helper()
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: seq, Ack: 7, ACK: true, PSH: true, Window: 500}
	var ip gopacket.SerializableLayer
	if v6 {
		l := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2")}
		tcp.SetNetworkLayerForChecksum(l)
		ip = l
	} else {
		l := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, Id: id,
			SrcIP: net.IPv4(198, 18, 0, 1).To4(), DstIP: net.IPv4(192, 0, 2, 1).To4()}
		tcp.SetNetworkLayerForChecksum(l)
		ip = l
	}
	buf := gopacket.NewSerializeBuffer()
	opt := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opt, ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

func payloadOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// feed decodes packets at times t0+times[i] (t0 when times is nil) and
// returns the classes, and the segment of the last ClassTCP with its
// payload copied.
func feed(d *Decoder, pkts [][]byte, times []time.Duration) ([]Class, Segment) {
	var classes []Class
	var got, seg Segment
	for i, p := range pkts {
		ts := t0
		if times != nil {
			ts = t0.Add(times[i])
		}
		c := d.DecodeRecord(Record{Data: p, TS: ts, Length: len(p), LinkType: layers.LinkTypeRaw}, &seg)
		classes = append(classes, c)
		if c == ClassTCP {
			got = seg
			got.Payload = bytes.Clone(seg.Payload)
		}
	}
	return classes, got
}

func classes(n int, last Class) []Class {
	c := make([]Class, n)
	for i := range c {
		c[i] = ClassFragment
	}
	c[n-1] = last
	return c
}

func equalClasses(a, b []Class) bool { return slices.Equal(a, b) }

// TestDecoderDefrag: the Decoder puts fragmented IPv4 and IPv6 TCP
// segments back together (package defrag has the rules and bounds).
func TestDecoderDefrag(t *testing.T) {
	pl := payloadOf(3000)
	reverse := func(p [][]byte) [][]byte {
		r := make([][]byte, len(p))
		for i := range p {
			r[len(p)-1-i] = p[i]
		}
		return r
	}
	// The middle fragment first, then the others.
	middleFirst := func(p [][]byte) [][]byte {
		return append([][]byte{p[len(p)/2]}, append(append([][]byte{}, p[:len(p)/2]...), p[len(p)/2+1:]...)...)
	}
	for _, v6 := range []bool{false, true} {
		for _, order := range []struct {
			name string
			f    func([][]byte) [][]byte
		}{{"in order", func(p [][]byte) [][]byte { return p }}, {"reversed", reverse}, {"middle first", middleFirst}} {
			name := "v4 " + order.name
			if v6 {
				name = "v6 " + order.name
			}
			t.Run(name, func(t *testing.T) {
				pkt := tcpPacket(t, v6, 77, 1000, pl)
				var frags [][]byte
				if v6 {
					frags = gen.FragmentIPv6(pkt, 1200, 0xabcdef)
				} else {
					frags = gen.FragmentIPv4(pkt, 1200)
				}
				if len(frags) != 3 {
					t.Fatalf("%d fragments", len(frags))
				}
				d := NewDecoder()
				cls, seg := feed(d, order.f(frags), nil)
				if !equalClasses(cls, classes(3, ClassTCP)) {
					t.Fatalf("classes %v", cls)
				}
				if !bytes.Equal(seg.Payload, pl) || seg.Seq != 1000 || seg.Src.Port() != 40000 || seg.Dst.Port() != 80 || seg.Missing != 0 {
					t.Fatalf("segment %v %d %d bytes missing %d", seg.Src, seg.Seq, len(seg.Payload), seg.Missing)
				}
				st := d.DefragStats()
				if st.Fragments != 3 || st.Datagrams != 1 || st.Pending != 0 || st.HeldBytes != 0 {
					t.Fatalf("stats %+v", st)
				}
			})
		}
	}
}

// TestDecoderDefragExtensionHeaders: an IPv6 Fragment header after a
// Destination Options header, and one more Destination Options header
// inside the fragmentable part, before TCP.
func TestDecoderDefragExtensionHeaders(t *testing.T) {
	pl := payloadOf(2000)
	pkt := tcpPacket(t, true, 0, 5, pl)
	// Insert an 8-byte Destination Options header (PadN) before TCP.
	dst := []byte{6, 0, 1, 4, 0, 0, 0, 0}
	inner := append(append(append([]byte{}, pkt[:40]...), dst...), pkt[40:]...)
	inner[6] = 60
	binary.BigEndian.PutUint16(inner[4:6], uint16(len(inner)-40))
	frags := gen.FragmentIPv6(inner, 800, 9)
	// And one more before each Fragment header.
	for i, f := range frags {
		g := append(append(append([]byte{}, f[:40]...), 44, 0, 1, 4, 0, 0, 0, 0), f[40:]...)
		g[6] = 60
		binary.BigEndian.PutUint16(g[4:6], uint16(len(g)-40))
		frags[i] = g
	}
	d := NewDecoder()
	cls, seg := feed(d, frags, nil)
	if !equalClasses(cls, classes(len(frags), ClassTCP)) || !bytes.Equal(seg.Payload, pl) || seg.Seq != 5 {
		t.Fatalf("classes %v, %d bytes", cls, len(seg.Payload))
	}
	// An atomic fragment (offset 0, no more fragments, RFC 6946) is whole.
	atomic := gen.FragmentIPv6(pkt, 4096, 1)
	if len(atomic) != 1 {
		t.Fatal("fragmented")
	}
	a := append(append(append([]byte{}, pkt[:40]...), 6, 0, 0, 0, 0, 0, 0, 1), pkt[40:]...)
	a[6] = 44
	binary.BigEndian.PutUint16(a[4:6], uint16(len(a)-40))
	cls, seg = feed(d, [][]byte{a}, nil)
	if cls[0] != ClassTCP || !bytes.Equal(seg.Payload, pl) {
		t.Fatalf("atomic fragment: %v", cls)
	}
}

// TestDecoderDefragRules: what the Decoder gives IP reassembly and makes of
// its results: IPv4 fragments of TCP only, a TCP header across fragments,
// packet time from the records, its bounds, bytes cut by the snapshot
// length.
func TestDecoderDefragRules(t *testing.T) {
	pl := payloadOf(3000)
	frags4 := func(id uint16) [][]byte { return gen.FragmentIPv4(tcpPacket(t, false, id, 1, pl), 1200) }
	t.Run("not tcp", func(t *testing.T) {
		f := frags4(4)
		for _, x := range f {
			x[9] = 17 // UDP
		}
		d := NewDecoder()
		cls, _ := feed(d, f, nil)
		if !equalClasses(cls, []Class{ClassNotTCP, ClassNotTCP, ClassNotTCP}) || d.DefragStats().Fragments != 0 {
			t.Fatalf("classes %v", cls)
		}
	})
	t.Run("tcp header split", func(t *testing.T) {
		// 8-byte fragments: the TCP header spans three of them.
		f := gen.FragmentIPv4(tcpPacket(t, false, 6, 42, []byte("hello")), 8)
		d := NewDecoder()
		cls, seg := feed(d, f, nil)
		if !equalClasses(cls, classes(len(f), ClassTCP)) || string(seg.Payload) != "hello" || seg.Seq != 42 {
			t.Fatalf("classes %v payload %q", cls, seg.Payload)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		f := gen.FragmentIPv4(tcpPacket(t, false, 1, 1, pl), 1200)
		d := NewDecoder()
		cls, _ := feed(d, f, []time.Duration{0, 10 * time.Second, 31 * time.Second})
		// The datagram expired before its last fragment, which starts a
		// new one.
		if !equalClasses(cls, classes(3, ClassFragment)) {
			t.Fatalf("classes %v", cls)
		}
		if st := d.DefragStats(); st.Expired != 1 || st.Pending != 1 {
			t.Fatalf("stats %+v", st)
		}
		cls, _ = feed(d, f[:1], []time.Duration{62 * time.Second})
		if st := d.DefragStats(); st.Expired != 2 || st.Pending != 1 || cls[0] != ClassFragment {
			t.Fatalf("stats %+v", st)
		}
		// Within the timeout it works.
		cls, _ = feed(d, f[1:], []time.Duration{70 * time.Second, 80 * time.Second})
		if cls[1] != ClassTCP {
			t.Fatalf("classes %v", cls)
		}
	})
	t.Run("options", func(t *testing.T) {
		d := NewDecoderOptions(defrag.Options{MaxFragments: 4})
		f := gen.FragmentIPv4(tcpPacket(t, false, 1, 1, pl), 504)
		cls, _ := feed(d, f, nil)
		if cls[len(cls)-1] == ClassTCP || d.DefragStats().TooMany != 1 {
			t.Fatalf("classes %v stats %+v", cls, d.DefragStats())
		}
	})
	t.Run("snaplen", func(t *testing.T) {
		f := gen.FragmentIPv4(tcpPacket(t, false, 1, 1, pl), 1200)
		f[1] = f[1][:20+500] // the middle fragment cut after 500 bytes
		d := NewDecoder()
		cls, seg := feed(d, f, nil)
		if cls[2] != ClassTCP || !bytes.Equal(seg.Payload, pl[:1200-20+500]) || seg.Missing != 3000-(1200-20+500) {
			t.Fatalf("classes %v, %d bytes, %d missing", cls, len(seg.Payload), seg.Missing)
		}
	})
}

// TestDecoderDefragAllocs: once warm, decoding and reassembling fragmented
// datagrams allocates nothing.
func TestDecoderDefragAllocs(t *testing.T) {
	pl := payloadOf(3000)
	f4 := gen.FragmentIPv4(tcpPacket(t, false, 1, 1, pl), 1200)
	f6 := gen.FragmentIPv6(tcpPacket(t, true, 0, 1, pl), 1200, 5)
	d := NewDecoder()
	var seg Segment
	run := func() {
		for _, fs := range [][][]byte{f4, f6} {
			for i, p := range fs {
				c := d.DecodeRecord(Record{Data: p, TS: t0, LinkType: layers.LinkTypeRaw}, &seg)
				if (i == len(fs)-1) != (c == ClassTCP) {
					t.Fatalf("class %v", c)
				}
			}
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Fatalf("%.1f allocations per round", n)
	}
}

// BenchmarkDecodeFragments decodes and reassembles the three fragments of
// an IPv4 TCP segment of 3000 payload bytes.
func BenchmarkDecodeFragments(b *testing.B) {
	pl := payloadOf(3000)
	f := gen.FragmentIPv4(tcpPacket(b, false, 1, 1, pl), 1480)
	d := NewDecoder()
	var seg Segment
	b.SetBytes(int64(len(pl)))
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range f {
			d.DecodeRecord(Record{Data: p, TS: t0, LinkType: layers.LinkTypeRaw}, &seg)
		}
	}
}

// BenchmarkDecode decodes one Ethernet/IPv4/TCP packet with 200 payload
// bytes (the hot path of every capture).
func BenchmarkDecode(b *testing.B) {
	ip := tcpPacket(b, false, 1, 1000, payloadOf(200))
	pkt := append([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00}, ip...)
	d := NewDecoder()
	var seg Segment
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if d.Decode(layers.LinkTypeEthernet, pkt, &seg) != ClassTCP {
			b.Fatal("not TCP")
		}
	}
}
