package pcap

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket/layers"
)

// Addrs returns the source and destination addresses of the IP header of
// the packet of the last Decode (the inner one of a tunnel, as Decode
// uses), whatever the packet carries; ok is false when it had no IP header
// that decoded (ARP, an unknown link type, a cut header).
func (d *Decoder) Addrs() (src, dst netip.Addr, ok bool) {
	for i := len(d.decoded) - 1; i >= 0; i-- {
		switch d.decoded[i] {
		case layers.LayerTypeIPv4:
			src, _ = netip.AddrFromSlice(d.ip4.SrcIP.To4())
			dst, _ = netip.AddrFromSlice(d.ip4.DstIP.To4())
			return src, dst, src.IsValid() && dst.IsValid()
		case layers.LayerTypeIPv6:
			if len(d.ip6.SrcIP) != 16 || len(d.ip6.DstIP) != 16 {
				return netip.Addr{}, netip.Addr{}, false
			}
			return netip.AddrFrom16([16]byte(d.ip6.SrcIP)), netip.AddrFrom16([16]byte(d.ip6.DstIP)), true
		}
	}
	return netip.Addr{}, netip.Addr{}, false
}

// FragmentPorts returns the TCP ports that the packet of the last Decode
// holds when it was the first fragment (offset 0) of a fragmented TCP
// datagram whose TCP header begins in it: the flow of a datagram that may
// never complete (RFC 791 §3.2, RFC 8200 §4.5: only the first fragment
// carries the upper-layer header). ok is false for any other packet.
func (d *Decoder) FragmentPorts() (src, dst uint16, ok bool) {
	fr := &d.fr
	if !d.isFrag || fr.Start != 0 || !fr.HasProto {
		return 0, 0, false
	}
	b := fr.Payload
	if fr.Key.V6 {
		// The fragmentable part may start with more extension headers.
		t, off, ok := skipIP6Ext(fr.Proto, b, false)
		if !ok || t != uint8(layers.IPProtocolTCP) {
			return 0, 0, false
		}
		b = b[off:]
	} else if fr.Proto != uint8(layers.IPProtocolTCP) {
		return 0, 0, false
	}
	if len(b) < 4 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:]), true
}

// Reassembling reports whether IP reassembly still holds datagram id,
// waiting for more of its fragments: false once it completed or was given
// up (expired, evicted, overlapping, too many fragments).
func (d *Decoder) Reassembling(id DatagramID) bool { return d.frag.Reassembling(id.k) }
