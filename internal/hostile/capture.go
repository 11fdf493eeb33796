// Package hostile builds hostile packet captures in code, for wscap's
// hostile-input tests and fuzz seeds: file headers and records that lie
// about their lengths, and TCP connections whose WebSocket bytes are
// crafted to exhaust memory or time. Every capture also carries one
// ordinary, well-formed WebSocket connection (see Ordinary), so a test can
// check that it is analysed unaffected.
//
// The writers are written out here, not taken from pcapgo, because most
// captures must break the format on purpose.
package hostile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"net/netip"
	"time"
)

// Start is the timestamp of every capture's first packet.
var Start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Packet is one captured packet: an Ethernet frame.
type Packet struct {
	TS   time.Time
	Data []byte
}

// Capture is a list of packets in capture order.
type Capture struct {
	Packets []Packet
	now     time.Time
}

// New returns an empty capture.
func New() *Capture { return &Capture{now: Start} }

// Add appends one Ethernet frame, 100 µs after the previous packet.
func (c *Capture) Add(frame []byte) {
	c.now = c.now.Add(100 * time.Microsecond)
	c.Packets = append(c.Packets, Packet{TS: c.now, Data: frame})
}

// Pcap returns the capture as a classic pcap file (little-endian,
// microseconds, Ethernet) whose header declares snaplen.
func (c *Capture) Pcap(snaplen uint32) []byte {
	b := PcapHeader(snaplen, 1)
	for _, p := range c.Packets {
		b = AppendPcapRecord(b, p.TS, uint32(len(p.Data)), uint32(len(p.Data)), p.Data)
	}
	return b
}

// PcapHeader returns a classic pcap file header (little-endian,
// microseconds).
func PcapHeader(snaplen, linkType uint32) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(b[4:], 2)
	binary.LittleEndian.PutUint16(b[6:], 4)
	binary.LittleEndian.PutUint32(b[16:], snaplen)
	binary.LittleEndian.PutUint32(b[20:], linkType)
	return b
}

// AppendPcapRecord appends a pcap record header that claims caplen and
// origLen, followed by data as given (which may be shorter or longer than
// caplen: the header may lie).
func AppendPcapRecord(b []byte, ts time.Time, caplen, origLen uint32, data []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(ts.Unix()))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts.Nanosecond()/1000))
	b = binary.LittleEndian.AppendUint32(b, caplen)
	b = binary.LittleEndian.AppendUint32(b, origLen)
	return append(b, data...)
}

// PcapNG returns the capture as a pcapng file: a section header, one
// Ethernet interface and an enhanced packet block per packet.
func (c *Capture) PcapNG() []byte {
	b := PcapNGHeader()
	for _, p := range c.Packets {
		b = AppendEPB(b, p.TS, p.Data)
	}
	return b
}

// PcapNGHeader returns a little-endian section header block and one
// interface description block (Ethernet, snaplen 262144).
func PcapNGHeader() []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0x0a0d0d0a)
	b = binary.LittleEndian.AppendUint32(b, 28)
	b = binary.LittleEndian.AppendUint32(b, 0x1a2b3c4d)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint64(b, 0xffffffffffffffff)
	b = binary.LittleEndian.AppendUint32(b, 28)

	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint32(b, 20)
	b = binary.LittleEndian.AppendUint16(b, 1) // Ethernet
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 262144)
	b = binary.LittleEndian.AppendUint32(b, 20)
	return b
}

// AppendEPB appends an enhanced packet block holding data.
func AppendEPB(b []byte, ts time.Time, data []byte) []byte {
	pad := (4 - len(data)%4) % 4
	total := uint32(32 + len(data) + pad)
	us := uint64(ts.UnixMicro())
	b = binary.LittleEndian.AppendUint32(b, 6)
	b = binary.LittleEndian.AppendUint32(b, total)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(us>>32))
	b = binary.LittleEndian.AppendUint32(b, uint32(us))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	b = append(b, make([]byte, pad)...)
	return binary.LittleEndian.AppendUint32(b, total)
}

// Gzip compresses b as one gzip member.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// TCP flags.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
)

// Segment returns an Ethernet/IPv4/TCP frame from src to dst. IPv4 and TCP
// checksums are correct.
func Segment(src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload []byte) []byte {
	b := make([]byte, 14+20+20+len(payload))
	copy(b[0:], []byte{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00})
	ip := b[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+20+len(payload)))
	ip[6] = 0x40 // DF
	ip[8] = 64
	ip[9] = 6
	s4, d4 := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:], s4[:])
	copy(ip[16:], d4[:])
	binary.BigEndian.PutUint16(ip[10:], ^checksum(0, ip))
	tcp := b[34:]
	binary.BigEndian.PutUint16(tcp[0:], src.Port())
	binary.BigEndian.PutUint16(tcp[2:], dst.Port())
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12] = 5 << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	copy(tcp[20:], payload)
	var pseudo [12]byte
	copy(pseudo[0:], s4[:])
	copy(pseudo[4:], d4[:])
	pseudo[9] = 6
	binary.BigEndian.PutUint16(pseudo[10:], uint16(len(tcp)))
	binary.BigEndian.PutUint16(tcp[16:], ^checksum(uint32(checksum(0, pseudo[:])), tcp))
	return b
}

// checksum adds b to the ones' complement sum s (RFC 1071).
func checksum(s uint32, b []byte) uint16 {
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// Conn is one TCP connection in a Capture.
type Conn struct {
	c              *Capture
	client, server netip.AddrPort
	cseq, sseq     uint32
	// MSS is the largest payload of one segment; Send splits longer
	// writes. Default 1460; hostile tests raise it to keep captures small
	// in packets.
	MSS int
}

// Dial adds a TCP three-way handshake from client to server.
func (c *Capture) Dial(client, server string) *Conn {
	k := &Conn{c: c, client: netip.MustParseAddrPort(client), server: netip.MustParseAddrPort(server),
		cseq: 1000, sseq: 5000, MSS: 1460}
	c.Add(Segment(k.client, k.server, k.cseq, 0, SYN, nil))
	c.Add(Segment(k.server, k.client, k.sseq, k.cseq+1, SYN|ACK, nil))
	k.cseq++
	k.sseq++
	c.Add(Segment(k.client, k.server, k.cseq, k.sseq, ACK, nil))
	return k
}

// Client sends b from the client, in segments of at most MSS bytes.
func (k *Conn) Client(b []byte) { k.send(true, b) }

// Server sends b from the server, in segments of at most MSS bytes.
func (k *Conn) Server(b []byte) { k.send(false, b) }

func (k *Conn) send(fromClient bool, b []byte) {
	for len(b) > 0 {
		n := min(len(b), k.MSS, 65535-40)
		if fromClient {
			k.c.Add(Segment(k.client, k.server, k.cseq, k.sseq, PSH|ACK, b[:n]))
			k.cseq += uint32(n)
		} else {
			k.c.Add(Segment(k.server, k.client, k.sseq, k.cseq, PSH|ACK, b[:n]))
			k.sseq += uint32(n)
		}
		b = b[n:]
	}
}

// Close adds FIN from the client, FIN from the server and the last ACK.
func (k *Conn) Close() {
	k.c.Add(Segment(k.client, k.server, k.cseq, k.sseq, FIN|ACK, nil))
	k.cseq++
	k.c.Add(Segment(k.server, k.client, k.sseq, k.cseq, FIN|ACK, nil))
	k.sseq++
	k.c.Add(Segment(k.client, k.server, k.cseq, k.sseq, ACK, nil))
}
