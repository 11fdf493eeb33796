package pcap

import (
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TCP flags as they appear in Segment.Flags.
const (
	FlagFIN = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
)

// Class says what a packet turned out to be.
type Class uint8

const (
	ClassTCP         Class = iota // a TCP segment: Segment is filled
	ClassNotTCP                   // a well-formed packet of another protocol (ARP, UDP, ICMP, ...)
	ClassUndecodable              // malformed, unknown link type, or cut before the TCP header
	ClassFragment                 // an IP fragment (reassembly of fragments is not done yet)
)

// Segment is a decoded TCP segment. Payload is borrowed from the packet.
type Segment struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    uint8
	Payload  []byte
	// Missing is the number of payload bytes the IP header announces but the
	// capture does not hold (a snaplen cut).
	Missing int
}

// Decoder decodes packets from link layer to TCP with gopacket's
// DecodingLayerParser: no allocation per packet. It is not safe for
// concurrent use.
type Decoder struct {
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	sll     layers.LinuxSLL
	sll2    layers.LinuxSLL2
	lo      layers.Loopback
	ip4     layers.IPv4
	ip6     layers.IPv6
	ip6ext  layers.IPv6ExtensionSkipper
	tcp     layers.TCP
	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
	// Err is the last decoding error, for diagnostics.
	Err error
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	return &Decoder{parsers: make(map[gopacket.LayerType]*gopacket.DecodingLayerParser), decoded: make([]gopacket.LayerType, 0, 8)}
}

func (d *Decoder) parser(first gopacket.LayerType) *gopacket.DecodingLayerParser {
	p := d.parsers[first]
	if p == nil {
		p = gopacket.NewDecodingLayerParser(first, &d.eth, &d.dot1q, &d.sll, &d.sll2, &d.lo, &d.ip4, &d.ip6, &d.ip6ext, &d.tcp)
		p.IgnoreUnsupported = true
		d.parsers[first] = p
	}
	return p
}

// firstLayer maps a link type to its first decoder.
func firstLayer(lt layers.LinkType, data []byte) (gopacket.LayerType, bool) {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, true
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, true
	case layers.LinkTypeLinuxSLL2:
		return layers.LayerTypeLinuxSLL2, true
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, true
	case layers.LinkTypeIPv4:
		return layers.LayerTypeIPv4, true
	case layers.LinkTypeIPv6:
		return layers.LayerTypeIPv6, true
	case layers.LinkTypeRaw, 12, 14: // DLT_RAW on OpenBSD and others
		if len(data) > 0 && data[0]>>4 == 6 {
			return layers.LayerTypeIPv6, true
		}
		return layers.LayerTypeIPv4, true
	}
	return 0, false
}

// SupportedLinkType reports whether packets of link type lt can be decoded.
func SupportedLinkType(lt layers.LinkType) bool {
	_, ok := firstLayer(lt, nil)
	return ok
}

// Decode decodes one packet. For ClassTCP it fills seg, whose Payload
// points into data.
func (d *Decoder) Decode(lt layers.LinkType, data []byte, seg *Segment) Class {
	first, ok := firstLayer(lt, data)
	if !ok {
		d.Err = errUnknownLink
		return ClassUndecodable
	}
	p := d.parser(first)
	d.decoded = d.decoded[:0]
	err := p.DecodeLayers(data, &d.decoded)
	d.Err = err
	var (
		haveIP  bool
		isV6    bool
		haveTCP bool
	)
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			haveIP, isV6 = true, false
		case layers.LayerTypeIPv6:
			haveIP, isV6 = true, true
		case layers.LayerTypeTCP:
			haveTCP = true
		}
	}
	if !haveIP {
		if err != nil && !isUnsupported(err) {
			return ClassUndecodable
		}
		return ClassNotTCP
	}
	if !isV6 && (d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0) {
		return ClassFragment
	}
	if !haveTCP {
		if isV6 && d.ip6.NextHeader == layers.IPProtocolIPv6Fragment {
			return ClassFragment
		}
		proto := d.ip4.Protocol
		if isV6 {
			proto = d.ip6.NextHeader
		}
		if proto == layers.IPProtocolTCP || (err != nil && !isUnsupported(err)) {
			return ClassUndecodable // a TCP header that did not decode
		}
		return ClassNotTCP
	}
	var src, dst netip.Addr
	var declared, have int
	if isV6 {
		src = netip.AddrFrom16([16]byte(d.ip6.SrcIP.To16()))
		dst = netip.AddrFrom16([16]byte(d.ip6.DstIP.To16()))
		declared = int(d.ip6.Length)
		have = len(d.ip6.Payload)
	} else {
		src, _ = netip.AddrFromSlice(d.ip4.SrcIP.To4())
		dst, _ = netip.AddrFromSlice(d.ip4.DstIP.To4())
		declared = int(d.ip4.Length) - int(d.ip4.IHL)*4
		have = len(d.ip4.Payload)
	}
	t := &d.tcp
	*seg = Segment{
		Src:     netip.AddrPortFrom(src, uint16(t.SrcPort)),
		Dst:     netip.AddrPortFrom(dst, uint16(t.DstPort)),
		Seq:     t.Seq,
		Ack:     t.Ack,
		Payload: t.Payload,
	}
	if t.FIN {
		seg.Flags |= FlagFIN
	}
	if t.SYN {
		seg.Flags |= FlagSYN
	}
	if t.RST {
		seg.Flags |= FlagRST
	}
	if t.PSH {
		seg.Flags |= FlagPSH
	}
	if t.ACK {
		seg.Flags |= FlagACK
	}
	if declared > have {
		seg.Missing = declared - have
	}
	return ClassTCP
}

func isUnsupported(err error) bool {
	_, ok := err.(gopacket.UnsupportedLayerType)
	return ok
}

type decodeError string

func (e decodeError) Error() string { return string(e) }

const errUnknownLink = decodeError("unsupported link type")
