package hostile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
)

// Case is one hostile capture.
type Case struct {
	Name string
	Data []byte
}

// withOrdinary builds a capture around hostile traffic: the ordinary
// connection's first half, hostile(c), the ordinary connection's second
// half. The connections interleave, so the ordinary one is open while the
// hostile one is decoded.
func withOrdinary(hostile func(c *Capture)) *Capture {
	c := New()
	o := StartOrdinary(c)
	hostile(c)
	o.Finish()
	return c
}

// ordinaryOnly is a capture holding just the ordinary connection.
func ordinaryOnly() *Capture {
	c := New()
	StartOrdinary(c).Finish()
	return c
}

// Snaplen4G is a pcap file whose header declares a snapshot length of
// 4 GiB - 1, holding the ordinary connection and then a record that claims
// 4 GiB - 1 bytes of which only tail bytes follow: the file ends first.
func Snaplen4G(tail int) []byte {
	b := ordinaryOnly().Pcap(0xffffffff)
	return AppendPcapRecord(b, Start.Add(1e9), 0xffffffff, 0xffffffff, make([]byte, tail))
}

// GzipSnaplenBomb is a gzip-compressed pcap file whose header declares a
// 4 GiB - 1 snapshot length, holding the ordinary connection and then one
// record of size zero bytes that are really there: a few hundred KiB of
// file that inflate to a single size-byte packet. The stream is written as
// a gzip member per MiB (gzip readers join members), so building it is
// cheap.
func GzipSnaplenBomb(size int) []byte {
	head := ordinaryOnly().Pcap(0xffffffff)
	head = AppendPcapRecord(head, Start.Add(1e9), uint32(size), uint32(size), nil)
	out := Gzip(head)
	const chunk = 1 << 20
	full := Gzip(make([]byte, chunk))
	for left := size; left > 0; left -= chunk {
		if left >= chunk {
			out = append(out, full...)
		} else {
			out = append(out, Gzip(make([]byte, left))...)
		}
	}
	return out
}

// GzipPcapNGBomb is a gzip-compressed pcapng file holding the ordinary
// connection and then one enhanced packet block of size zero bytes that
// are really there (gzip members of 1 MiB each, as GzipSnaplenBomb).
func GzipPcapNGBomb(size int) []byte {
	head := ordinaryOnly().PcapNG()
	pad := (4 - size%4) % 4
	total := uint32(32 + size + pad)
	head = binary.LittleEndian.AppendUint32(head, 6)
	head = binary.LittleEndian.AppendUint32(head, total)
	head = binary.LittleEndian.AppendUint32(head, 0)
	head = binary.LittleEndian.AppendUint64(head, 0)
	head = binary.LittleEndian.AppendUint32(head, uint32(size))
	head = binary.LittleEndian.AppendUint32(head, uint32(size))
	out := Gzip(head)
	const chunk = 1 << 20
	full := Gzip(make([]byte, chunk))
	for left := size + pad; left > 0; left -= chunk {
		if left >= chunk {
			out = append(out, full...)
		} else {
			out = append(out, Gzip(make([]byte, left))...)
		}
	}
	return append(out, Gzip(binary.LittleEndian.AppendUint32(nil, total))...)
}

// RecordBeyondFile is a pcap file holding the ordinary connection and then
// a record that claims caplen bytes (with an original length of caplen)
// of which only have are in the file.
func RecordBeyondFile(caplen uint32, have int) []byte {
	b := ordinaryOnly().Pcap(65535)
	return AppendPcapRecord(b, Start.Add(1e9), caplen, caplen, make([]byte, have))
}

// CaplenOverLen is a pcap file holding the ordinary connection and then a
// record whose captured length exceeds its original length.
func CaplenOverLen() []byte {
	b := ordinaryOnly().Pcap(65535)
	return AppendPcapRecord(b, Start.Add(1e9), 100, 60, make([]byte, 100))
}

// PcapNGBogusBlock is a pcapng file holding the ordinary connection and
// then an enhanced packet block whose total length field is length,
// followed by 64 bytes.
func PcapNGBogusBlock(length uint32) []byte {
	b := ordinaryOnly().PcapNG()
	b = binary.LittleEndian.AppendUint32(b, 6)
	b = binary.LittleEndian.AppendUint32(b, length)
	return append(b, make([]byte, 64)...)
}

// PcapNGBogusCaplen is a pcapng file holding the ordinary connection and
// then an enhanced packet block of a sane total length whose captured
// length claims 4 GiB - 1.
func PcapNGBogusCaplen() []byte {
	b := ordinaryOnly().PcapNG()
	var blk []byte
	blk = binary.LittleEndian.AppendUint32(blk, 6)
	blk = binary.LittleEndian.AppendUint32(blk, 48)
	blk = binary.LittleEndian.AppendUint32(blk, 0)
	blk = binary.LittleEndian.AppendUint64(blk, 0)
	blk = binary.LittleEndian.AppendUint32(blk, 0xffffffff)
	blk = binary.LittleEndian.AppendUint32(blk, 0xffffffff)
	blk = append(blk, make([]byte, 16)...)
	blk = binary.LittleEndian.AppendUint32(blk, 48)
	return append(b, blk...)
}

// TinyFrames is a capture whose hostile connection sends n empty binary
// frames from the server and n one-byte text frames from the client.
func TinyFrames(n int) []byte {
	return withOrdinary(func(c *Capture) {
		k := Upgraded(c, nil, nil)
		k.MSS = 65000
		var sv, cl []byte
		for range n {
			sv = append(sv, ServerFrame(OpBinary, nil)...)
			cl = append(cl, ClientFrame(OpText, []byte("x"))...)
		}
		k.Server(sv)
		k.Client(cl)
		k.Close()
	}).Pcap(262144)
}

// ContinuationChain is a capture whose hostile server starts a text message
// and continues it with n continuation frames of size bytes each, never
// setting FIN; the connection stays open to the end of the capture.
func ContinuationChain(n, size int) []byte {
	return withOrdinary(func(c *Capture) {
		k := Upgraded(c, nil, nil)
		k.MSS = 65000
		payload := bytes.Repeat([]byte("c"), size)
		b := Frame(false, 0, OpText, false, payload)
		for range n {
			b = append(b, Frame(false, 0, OpContinuation, false, payload)...)
			if len(b) >= 60000 {
				k.Server(b)
				b = b[:0]
			}
		}
		k.Server(b)
	}).Pcap(262144)
}

// DeflateBomb is a capture whose hostile connection negotiates
// permessage-deflate and whose server sends the given number of compressed
// messages, each inflating to size bytes of zeros, then the text "after
// the bomb", compressed in the same context.
func DeflateBomb(size, messages int) []byte {
	return withOrdinary(func(c *Capture) {
		k := Upgraded(c, []string{"Sec-WebSocket-Extensions: permessage-deflate"}, []string{"Sec-WebSocket-Extensions: permessage-deflate"})
		k.MSS = 65000
		z := NewCompressor()
		zeros := make([]byte, size)
		for range messages {
			k.Server(Frame(true, 4, OpBinary, false, z.Compress(zeros)))
		}
		k.Server(Frame(true, 4, OpText, false, z.Compress([]byte("after the bomb"))))
		k.Client(ClientFrame(OpClose, ClosePayload(1000, "")))
		k.Server(ServerFrame(OpClose, ClosePayload(1000, "")))
		k.Close()
	}).Pcap(262144)
}

// InvalidUTF8 is a capture whose hostile connection puts invalid UTF-8
// everywhere it can: the request target, Host, Origin, User-Agent, the
// offered and chosen subprotocol, the Server header, text messages (whole,
// fragmented with a rune split across frames and then broken, ending in a
// cut rune), ping payloads and the Close reasons.
func InvalidUTF8() []byte {
	bad := "\xff\xfe\xc3\x28\xed\xa0\x80\xf4\x90\x80\x80"
	return withOrdinary(func(c *Capture) {
		k := c.Dial(HostileClient, HostileServer)
		k.Client(Request("/p\xc3\x28\xff", "h\xffst.example",
			"Origin: http://\xfe\xff.example", "User-Agent: agent\xc0\xaf/1", "Sec-WebSocket-Protocol: chat\xff, v1"))
		k.Server(Response("Sec-WebSocket-Protocol: chat\xff", "Server: srv\xed\xa0\x80"))
		k.Server(ServerFrame(OpText, []byte("bad "+bad)))
		k.Client(ClientFrame(OpText, []byte(bad+" from the client")))
		// "é" split across two frames is fine; then a lone continuation byte.
		k.Server(append(Frame(false, 0, OpText, false, []byte("split \xc3")), Frame(true, 0, OpContinuation, false, []byte("\xa9 then \x80"))...))
		k.Server(ServerFrame(OpText, []byte("cut rune \xe2\x82")))
		k.Client(ClientFrame(OpPing, []byte(bad)))
		k.Client(ClientFrame(OpClose, ClosePayload(1000, "reason "+bad)))
		k.Server(ServerFrame(OpClose, ClosePayload(1001, bad)))
		k.Close()
	}).Pcap(262144)
}

// ManyHeaders is a capture whose hostile connection sends an upgrade
// request with n extra header fields (and, when inResponse, a 101 response
// with n extra fields), then frames.
func ManyHeaders(n int, inResponse bool) []byte {
	var extra []string
	for i := range n {
		extra = append(extra, fmt.Sprintf("X-H%d: v", i))
	}
	return withOrdinary(func(c *Capture) {
		k := c.Dial(HostileClient, HostileServer)
		k.MSS = 65000
		if inResponse {
			k.Client(Request("/hostile", "hostile.example"))
			k.Server(Response(extra...))
		} else {
			k.Client(Request("/hostile", "hostile.example", extra...))
			k.Server(Response())
		}
		k.Client(ClientFrame(OpText, []byte("after many headers")))
		k.Server(ServerFrame(OpText, []byte("after many headers")))
		k.Close()
	}).Pcap(262144)
}

// GarbageAfter101 is a capture whose hostile connection completes a clean
// handshake and then sends n pseudo-random bytes in each direction (the
// server's first bytes in the segment of the 101), seeded with seed.
func GarbageAfter101(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 101))
	garbage := func() []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	return withOrdinary(func(c *Capture) {
		k := c.Dial(HostileClient, HostileServer)
		k.Client(Request("/hostile", "hostile.example"))
		k.Server(append(Response(), garbage()...))
		k.Client(garbage())
		k.Close()
	}).Pcap(262144)
}

// HugeFrameHeader is a capture whose hostile server sends a frame header
// announcing length payload bytes, 1000 bytes of what would be its payload,
// then two well-formed text messages "after 1" and "after 2" and a closing
// handshake.
func HugeFrameHeader(length uint64) []byte {
	return withOrdinary(func(c *Capture) {
		k := Upgraded(c, nil, nil)
		k.Server(append(FrameHeader(true, 0, OpBinary, false, length), bytes.Repeat([]byte{0xee}, 1000)...))
		k.Server(ServerFrame(OpText, []byte("after 1")))
		k.Server(ServerFrame(OpText, []byte("after 2")))
		k.Client(ClientFrame(OpClose, ClosePayload(1000, "")))
		k.Server(ServerFrame(OpClose, ClosePayload(1000, "")))
		k.Close()
	}).Pcap(262144)
}

// Small returns small versions (a few KiB each) of every hostile capture,
// for fuzz seeds.
func Small() []Case {
	return []Case{
		{"snaplen-4g", Snaplen4G(64)},
		{"record-beyond-file", RecordBeyondFile(70000, 100)},
		{"caplen-over-len", CaplenOverLen()},
		{"pcapng-block-length-small", PcapNGBogusBlock(7)},
		{"pcapng-block-length-huge", PcapNGBogusBlock(0xfffffff0)},
		{"pcapng-caplen-huge", PcapNGBogusCaplen()},
		{"tiny-frames", TinyFrames(200)},
		{"continuation-chain", ContinuationChain(100, 10)},
		{"deflate-bomb", DeflateBomb(1<<20, 1)},
		{"invalid-utf8", InvalidUTF8()},
		{"many-headers", ManyHeaders(300, false)},
		{"garbage-after-101", GarbageAfter101(2000, 1)},
		{"frame-2^63-1", HugeFrameHeader(1<<63 - 1)},
		{"frame-2^63", HugeFrameHeader(1 << 63)},
		{"gzip", Gzip(InvalidUTF8())},
		{"cut-rune", CutRune()},
		{"reordered-segments", ReorderedSegments(300, true)},
		{"syn-flood", SYNFlood(500)},
		{"repeated-bomb", RepeatedBomb(1<<20, 8)},
	}
}

// OutOfOrderFlood is a capture whose hostile server, after a clean
// handshake, loses its first hole bytes (never captured, never
// acknowledged until the end) and then sends n binary messages of size
// bytes each, so that everything after the hole arrives out of order and
// must be buffered or given up.
func OutOfOrderFlood(hole, n, size int) []byte {
	return withOrdinary(func(c *Capture) {
		k := Upgraded(c, nil, nil)
		k.sseq += uint32(hole)
		payload := bytes.Repeat([]byte("o"), size)
		for range n {
			k.Server(ServerFrame(OpBinary, payload))
		}
		k.Close()
	}).Pcap(262144)
}

// CutRune is a capture whose hostile server sends a text frame announcing
// 10 bytes and ends the connection after 4 of them, the last two the
// start of a 3-byte rune: an incomplete message whose kept text ends in a
// cut rune.
func CutRune() []byte {
	return withOrdinary(func(c *Capture) {
		k := Upgraded(c, nil, nil)
		k.Server(append(FrameHeader(true, 0, OpText, false, 10), "ab\xe2\x82"...))
		k.Close()
	}).Pcap(262144)
}

// ReorderedSegments is a capture whose hostile server, after a clean
// handshake, sends one binary message of n bytes as one-byte segments in
// reverse order (shuffled instead when shuffle is set), then a text
// message "after the reordered message" and a close: reassembly buffers
// every segment until the first one comes, last.
func ReorderedSegments(n int, shuffle bool) []byte {
	return withOrdinary(func(c *Capture) {
		k := Upgraded(c, nil, nil)
		frame := ServerFrame(OpBinary, bytes.Repeat([]byte("r"), n))
		order := make([]int, len(frame))
		for i := range order {
			order[i] = len(frame) - 1 - i
		}
		if shuffle {
			rng := rand.New(rand.NewPCG(uint64(n), 2))
			rng.Shuffle(len(order)-1, func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		// The first byte comes last either way: everything before it
		// waits in the reassembly's buffers.
		for _, i := range order {
			c.Add(Segment(k.server, k.client, k.sseq+uint32(i), k.cseq, ACK, frame[i:i+1]))
		}
		k.sseq += uint32(len(frame))
		k.Server(ServerFrame(OpText, []byte("after the reordered message")))
		k.Server(ServerFrame(OpClose, ClosePayload(1000, "")))
		k.Client(ClientFrame(OpClose, ClosePayload(1000, "")))
		k.Close()
	}).Pcap(262144)
}

// SYNFlood is a capture of n SYN-only connections (spoofed sources, one
// SYN each, to the hostile server) around the ordinary connection: a
// connection that never carries a byte.
func SYNFlood(n int) []byte {
	return withOrdinary(func(c *Capture) {
		dst := netip.MustParseAddrPort(HostileServer)
		for i := range n {
			src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 7, byte(i >> 16), byte(i >> 8)}), uint16(1024+i&0xff))
			c.Add(Segment(src, dst, uint32(i)*2654435761, 0, SYN, nil))
		}
	}).Pcap(262144)
}

// RepeatedBomb is DeflateBomb with server_no_context_takeover: every
// message is the same compressed bytes (compressed once, so that a
// capture of thousands of bombs is quick to make), each inflating to size
// zeros, then the text "after the bomb".
func RepeatedBomb(size, messages int) []byte {
	ext := "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover"
	return withOrdinary(func(c *Capture) {
		k := Upgraded(c, []string{"Sec-WebSocket-Extensions: permessage-deflate"}, []string{ext})
		k.MSS = 65000
		bomb := Frame(true, 4, OpBinary, false, NewCompressor().Compress(make([]byte, size)))
		for range messages {
			k.Server(bomb)
		}
		k.Server(Frame(true, 4, OpText, false, NewCompressor().Compress([]byte("after the bomb"))))
		k.Client(ClientFrame(OpClose, ClosePayload(1000, "")))
		k.Server(ServerFrame(OpClose, ClosePayload(1000, "")))
		k.Close()
	}).Pcap(262144)
}
