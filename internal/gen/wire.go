package gen

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// DefaultSnaplen is the snapshot length written when Options.Snaplen is 0.
const DefaultSnaplen = 262144

// wire serialises segments into link-layer frames with gopacket.
type wire struct {
	link Link
	eth  layers.Ethernet
	ip4  layers.IPv4
	ip6  layers.IPv6
	tcp  layers.TCP
	buf  gopacket.SerializeBuffer
	opt  gopacket.SerializeOptions
	syn  []layers.TCPOption

	scratch []byte // frame's output
}

func newWire(link Link) *wire {
	w := &wire{
		link: link,
		buf:  gopacket.NewSerializeBufferExpectedSize(64, 1600),
		opt:  gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
	}
	w.ip4 = layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, Flags: layers.IPv4DontFragment}
	w.ip6 = layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP}
	return w
}

// synOptions returns MSS, SACK-permitted, NOP and window scale 7.
func synOptions(mss int) []layers.TCPOption {
	return []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{byte(mss >> 8), byte(mss)}},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
		{OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
	}
}

// packet returns the frame for seg of connection s, valid until the next call.
func (w *wire) packet(s *connState, seg *Segment) ([]byte, error) {
	d := seg.Dir & 1
	src, dst := s.addr[d], s.addr[d^1]
	t := &w.tcp
	*t = layers.TCP{
		SrcPort: layers.TCPPort(src.Port()),
		DstPort: layers.TCPPort(dst.Port()),
		Seq:     seg.Seq,
		Ack:     seg.Ack,
		FIN:     seg.Flags&FlagFIN != 0,
		SYN:     seg.Flags&FlagSYN != 0,
		RST:     seg.Flags&FlagRST != 0,
		PSH:     seg.Flags&FlagPSH != 0,
		ACK:     seg.Flags&FlagACK != 0,
		URG:     seg.Flags&FlagURG != 0,
		ECE:     seg.Flags&FlagECE != 0,
		CWR:     seg.Flags&FlagCWR != 0,
		Window:  seg.Window,
	}
	if t.SYN {
		t.Options = synOptions(s.mss)
	}
	var ip gopacket.SerializableLayer
	var ethType layers.EthernetType
	if s.v6 {
		w.ip6.SrcIP, w.ip6.DstIP = s.ip[d], s.ip[d^1]
		t.SetNetworkLayerForChecksum(&w.ip6)
		ip, ethType = &w.ip6, layers.EthernetTypeIPv6
	} else {
		w.ip4.SrcIP, w.ip4.DstIP = s.ip[d], s.ip[d^1]
		w.ip4.Id = s.ipid[d]
		s.ipid[d]++
		t.SetNetworkLayerForChecksum(&w.ip4)
		ip, ethType = &w.ip4, layers.EthernetTypeIPv4
	}
	var err error
	switch w.link {
	case LinkEthernet:
		w.eth.SrcMAC, w.eth.DstMAC, w.eth.EthernetType = s.mac[d], s.mac[d^1], ethType
		err = gopacket.SerializeLayers(w.buf, w.opt, &w.eth, ip, t, gopacket.Payload(seg.Payload))
	case LinkRaw:
		err = gopacket.SerializeLayers(w.buf, w.opt, ip, t, gopacket.Payload(seg.Payload))
	case LinkSLL:
		err = gopacket.SerializeLayers(w.buf, w.opt, ip, t, gopacket.Payload(seg.Payload))
		if err == nil {
			var h []byte
			if h, err = w.buf.PrependBytes(16); err == nil {
				sllHeader(h, d, s.mac[d], ethType)
			}
		}
	}
	return w.buf.Bytes(), err
}

// sllHeader fills a Linux cooked capture v1 header, seen from the server:
// client packets are to this host (0), server packets outgoing (4).
func sllHeader(h []byte, d Direction, mac net.HardwareAddr, t layers.EthernetType) {
	clear(h)
	if d == FromServer {
		binary.BigEndian.PutUint16(h[0:], 4)
	}
	binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
	binary.BigEndian.PutUint16(h[4:], 6)
	copy(h[6:14], mac)
	binary.BigEndian.PutUint16(h[14:], uint16(t))
}

func (l Link) layerType() layers.LinkType {
	switch l {
	case LinkRaw:
		return layers.LinkTypeRaw
	case LinkSLL:
		return layers.LinkTypeLinuxSLL
	}
	return layers.LinkTypeEthernet
}

// macFor derives a locally administered MAC from an address.
func macFor(a netip.Addr) net.HardwareAddr {
	b := a.As16()
	return net.HardwareAddr{0x02, 0x00, b[12], b[13], b[14], b[15]}
}

// packetWriter writes capture records.
type packetWriter interface {
	WritePacket(ci gopacket.CaptureInfo, data []byte) error
}

// newPacketWriter writes the file header and returns the record writer and
// a function that flushes everything.
func newPacketWriter(w io.Writer, f Format, l Link, snaplen int) (packetWriter, func() error, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	switch f {
	case FormatPcapNG:
		ng, err := pcapgo.NewNgWriterInterface(bw, pcapgo.NgInterface{
			Name:                "wscapgen0",
			LinkType:            l.layerType(),
			SnapLength:          uint32(snaplen),
			TimestampResolution: 9,
		}, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "wscapgen"}})
		if err != nil {
			return nil, nil, err
		}
		return ng, func() error {
			if err := ng.Flush(); err != nil {
				return err
			}
			return bw.Flush()
		}, nil
	default:
		pw := pcapgo.NewWriter(bw)
		if f == FormatPcapNano {
			pw = pcapgo.NewWriterNanos(bw)
		}
		if err := pw.WriteFileHeader(uint32(snaplen), l.layerType()); err != nil {
			return nil, nil, err
		}
		return pw, bw.Flush, nil
	}
}

// ipPacket returns the IP packet (no link header) for seg of connection s,
// valid until the next call.
func (w *wire) ipPacket(s *connState, seg *Segment) ([]byte, error) {
	link := w.link
	w.link = LinkRaw
	b, err := w.packet(s, seg)
	w.link = link
	return b, err
}

// frame puts the link header of direction d before the IP packet ip, in a
// buffer valid until the next call.
func (w *wire) frame(s *connState, d Direction, ip []byte) []byte {
	et := layers.EthernetTypeIPv4
	if len(ip) > 0 && ip[0]>>4 == 6 {
		et = layers.EthernetTypeIPv6
	}
	b := w.scratch[:0]
	switch w.link {
	case LinkEthernet:
		b = append(b, s.mac[d^1]...)
		b = append(b, s.mac[d]...)
		b = binary.BigEndian.AppendUint16(b, uint16(et))
	case LinkSLL:
		var h [16]byte
		sllHeader(h[:], d, s.mac[d], et)
		b = append(b, h[:]...)
	}
	b = append(b, ip...)
	w.scratch = b
	return b
}
