package pcap

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wscap/wscap/pcap/defrag"
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
	// ClassFragment is an IP fragment that did not complete a datagram:
	// held for reassembly, or dropped (see Decoder.DefragStats). The fragment that
	// completes a datagram is classified as the datagram is: ClassTCP with
	// the reassembled segment, ClassNotTCP, or ClassUndecodable.
	ClassFragment
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
// DecodingLayerParser: no allocation per packet. It reassembles fragmented
// IPv4 and IPv6 datagrams first (package defrag), so it must see every
// packet of an input, in order: IPv4 fragments of TCP only (nothing after
// the decoder wants other protocols), all IPv6 fragments (only the first
// one names the protocol). It is not safe for concurrent use.
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
	parsers []parserFor // one per first layer seen, the last used first
	decoded []gopacket.LayerType
	// Err is the last decoding error, for diagnostics.
	Err error

	now    time.Time            // packet time of the current packet (DecodeRecord)
	frag   *defrag.Defragmenter // IP reassembly
	fr     defrag.Fragment
	isFrag bool       // the last packet decoded was an IP fragment (fr.Key is its datagram)
	tcpIn  layers.TCP // the TCP header of a reassembled datagram
}

// NewDecoder returns a Decoder with the default IP reassembly bounds.
func NewDecoder() *Decoder { return NewDecoderOptions(defrag.Options{}) }

// NewDecoderOptions returns a Decoder whose IP reassembly is bounded by o.
func NewDecoderOptions(o defrag.Options) *Decoder {
	return &Decoder{decoded: make([]gopacket.LayerType, 0, 8), frag: defrag.New(o)}
}

// DatagramID identifies the IP datagram a fragment belongs to.
type DatagramID struct{ k defrag.Key }

// Datagram reports whether the packet of the last Decode was an IP fragment
// of a TCP datagram, and of which datagram: Decode returned ClassFragment
// while the datagram was incomplete, and a class of the whole datagram for
// the fragment that completed it. It lets a caller that keeps packets keep
// every fragment of the datagrams it keeps (--write-pcap).
func (d *Decoder) Datagram() (DatagramID, bool) { return DatagramID{d.fr.Key}, d.isFrag }

// DefragStats returns what IP reassembly did so far.
func (d *Decoder) DefragStats() defrag.Stats { return d.frag.Stats() }

// DecodeRecord decodes one packet read from a Source: Decode with the
// record's timestamp as the packet time that IP reassembly's timeout
// follows.
func (d *Decoder) DecodeRecord(rec Record, seg *Segment) Class {
	d.now = rec.TS
	d.frag.Expire(rec.TS)
	return d.Decode(rec.LinkType, rec.Data, seg)
}

type parserFor struct {
	first gopacket.LayerType
	p     *gopacket.DecodingLayerParser
}

// parser returns the parser of packets whose first layer is first. Its
// layers sit in a DecodingLayerSparse, indexed by layer type: measured
// faster than the default map-based container.
func (d *Decoder) parser(first gopacket.LayerType) *gopacket.DecodingLayerParser {
	for i, pf := range d.parsers {
		if pf.first == first {
			if i > 0 {
				d.parsers[0], d.parsers[i] = pf, d.parsers[0]
			}
			return pf.p
		}
	}
	p := gopacket.NewDecodingLayerParser(first)
	p.SetDecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
	for _, l := range []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.lo, &d.ip4, &d.ip6, &d.ip6ext, &d.tcp} {
		p.AddDecodingLayer(l)
	}
	p.IgnoreUnsupported = true
	d.parsers = append([]parserFor{{first, p}}, d.parsers...)
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
// points into data, or, for the fragment that completes an IP datagram,
// into a buffer of the Decoder: either way it is valid until the next call.
// Decode does not advance packet time; DecodeRecord does.
func (d *Decoder) Decode(lt layers.LinkType, data []byte, seg *Segment) Class {
	d.isFrag = false
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
		frag6   bool
	)
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			haveIP, isV6 = true, false
		case layers.LayerTypeIPv6:
			haveIP, isV6 = true, true
		case layers.LayerTypeIPv6Fragment:
			frag6 = true
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
		return d.fragment4(seg)
	}
	if isV6 && (frag6 || !haveTCP) {
		// The extension skipper passes over a Fragment header and decodes
		// what follows as if it were whole: look for one first.
		if c, ok := d.fragment6(seg); ok {
			return c
		}
	}
	if !haveTCP {
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
		if d.ip6.HopByHop != nil { // decoded with the IPv6 header, not in Payload
			have += d.ip6.HopByHop.ActualLength
		}
	} else {
		src, _ = netip.AddrFromSlice(d.ip4.SrcIP.To4())
		dst, _ = netip.AddrFromSlice(d.ip4.DstIP.To4())
		declared = int(d.ip4.Length) - int(d.ip4.IHL)*4
		have = len(d.ip4.Payload)
	}
	d.fill(seg, src, dst, &d.tcp, declared-have)
	return ClassTCP
}

// fill sets seg from a decoded TCP header; missing is the number of payload
// bytes the IP header announces but the capture does not hold.
func (d *Decoder) fill(seg *Segment, src, dst netip.Addr, t *layers.TCP, missing int) {
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
	if missing > 0 {
		seg.Missing = missing
	}
}

// fragment4 handles an IPv4 fragment.
func (d *Decoder) fragment4(seg *Segment) Class {
	ip := &d.ip4
	if ip.Protocol != layers.IPProtocolTCP {
		return ClassNotTCP // not reassembled: nothing downstream wants it
	}
	fr := &d.fr
	*fr = defrag.Fragment{
		Start:    int(ip.FragOffset) * 8,
		Length:   int(ip.Length) - int(ip.IHL)*4,
		More:     ip.Flags&layers.IPv4MoreFragments != 0,
		Payload:  ip.Payload,
		Proto:    uint8(ip.Protocol),
		HasProto: true,
	}
	copy(fr.Key.Src[:], ip.SrcIP.To4())
	copy(fr.Key.Dst[:], ip.DstIP.To4())
	fr.Key.ID = uint32(ip.Id)
	fr.Key.Proto = uint8(ip.Protocol)
	d.isFrag = true
	payload, missing, _, done := d.frag.Add(fr, d.now)
	if !done {
		return ClassFragment
	}
	src, _ := netip.AddrFromSlice(ip.SrcIP.To4())
	dst, _ := netip.AddrFromSlice(ip.DstIP.To4())
	return d.datagram(seg, src, dst, layers.IPProtocolTCP, payload, missing)
}

// fragment6 handles an IPv6 packet that may carry a Fragment header; ok is
// false when it does not.
func (d *Decoder) fragment6(seg *Segment) (Class, bool) {
	ip := &d.ip6
	next, b, pre := uint8(ip.NextHeader), ip.Payload, 0
	if ip.HopByHop != nil {
		next, pre = uint8(ip.HopByHop.NextHeader), ip.HopByHop.ActualLength
	}
	t, off, ok := skipIP6Ext(next, b, true)
	if !ok || t != ip6Fragment {
		return 0, false
	}
	fr := &d.fr
	*fr = defrag.Fragment{}
	if !fragment6(fr, b[off:], int(ip.Length)-pre-off-8) {
		return ClassUndecodable, true
	}
	copy(fr.Key.Src[:], ip.SrcIP.To16())
	copy(fr.Key.Dst[:], ip.DstIP.To16())
	fr.Key.V6 = true
	d.isFrag = true
	payload, missing, proto, done := d.frag.Add(fr, d.now)
	if !done {
		return ClassFragment, true
	}
	src := netip.AddrFrom16([16]byte(ip.SrcIP.To16()))
	dst := netip.AddrFrom16([16]byte(ip.DstIP.To16()))
	// The fragmentable part may start with more extension headers.
	t, off, ok = skipIP6Ext(proto, payload, false)
	if !ok {
		return ClassUndecodable, true
	}
	return d.datagram(seg, src, dst, layers.IPProtocol(t), payload[off:], missing), true
}

// datagram decodes the upper layer of a reassembled datagram.
func (d *Decoder) datagram(seg *Segment, src, dst netip.Addr, proto layers.IPProtocol, payload []byte, missing int) Class {
	if proto != layers.IPProtocolTCP {
		return ClassNotTCP
	}
	t := &d.tcpIn
	if err := t.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
		d.Err = err
		return ClassUndecodable
	}
	d.fill(seg, src, dst, t, missing)
	return ClassTCP
}

func isUnsupported(err error) bool {
	_, ok := err.(gopacket.UnsupportedLayerType)
	return ok
}

type decodeError string

func (e decodeError) Error() string { return string(e) }

const errUnknownLink = decodeError("unsupported link type")

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
func fragment6(fr *defrag.Fragment, b []byte, length int) bool {
	if len(b) < 8 {
		return false
	}
	fo := binary.BigEndian.Uint16(b[2:4])
	fr.Proto = b[0]
	fr.HasProto = true
	fr.Start = int(fo>>3) * 8
	fr.More = fo&1 != 0
	fr.Key.ID = binary.BigEndian.Uint32(b[4:8])
	fr.Length = length
	fr.Payload = b[8:]
	return true
}
