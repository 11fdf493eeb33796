package pcap

import (
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/wscap/wscap/internal/gen"
)

// TestDecoderAddrs: the addresses of any IP packet, the ports of a first
// fragment only, and whether a datagram is still being reassembled, for
// IPv4 and IPv6 fragments in order and last first.
func TestDecoderAddrs(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		for _, reversed := range []bool{false, true} {
			pkt := tcpPacket(t, v6, 9, 1, payloadOf(3000))
			frags := gen.FragmentIPv4(pkt, 1200)
			src, dst := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("192.0.2.1")
			if v6 {
				frags = gen.FragmentIPv6(pkt, 1200, 5)
				src, dst = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
			}
			first := 0
			if reversed {
				frags = [][]byte{frags[2], frags[1], frags[0]}
				first = 2
			}
			d := NewDecoder()
			var seg Segment
			for i, f := range frags {
				c := d.DecodeRecord(Record{Data: f, TS: t0, Length: len(f), LinkType: layers.LinkTypeRaw}, &seg)
				id, frag := d.Datagram()
				if s, ds, ok := d.Addrs(); !ok || s != src || ds != dst || !frag {
					t.Errorf("v6 %v reversed %v, fragment %d: %v %v %v, fragment %v", v6, reversed, i, s, ds, ok, frag)
				}
				sp, dp, ok := d.FragmentPorts()
				if ok != (i == first) || ok && (sp != 40000 || dp != 80) {
					t.Errorf("v6 %v reversed %v, fragment %d: ports %d %d %v", v6, reversed, i, sp, dp, ok)
				}
				if last := i == len(frags)-1; d.Reassembling(id) == last || (c == ClassTCP) != last {
					t.Errorf("v6 %v reversed %v, fragment %d: %v, reassembling %v", v6, reversed, i, c, d.Reassembling(id))
				}
			}
		}
	}
	// Not IP: no addresses, no ports.
	d := NewDecoder()
	var seg Segment
	arp := append(make([]byte, 12), 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1)
	if c := d.Decode(layers.LinkTypeEthernet, arp, &seg); c != ClassNotTCP {
		t.Errorf("ARP: %v", c)
	}
	if _, _, ok := d.Addrs(); ok {
		t.Error("ARP has addresses")
	}
	if _, _, ok := d.FragmentPorts(); ok {
		t.Error("ARP has ports")
	}
}
