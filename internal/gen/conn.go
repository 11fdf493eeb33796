package gen

import (
	"net/netip"
	"time"
)

// ConnOptions configures one connection. Zero values take the defaults
// noted.
type ConnOptions struct {
	// Client and Server are the endpoints; zero values are derived from the
	// connection's ID (198.18.0.0/15 clients, 192.0.2.1-4:80 servers, or
	// 2001:db8:1::/64 and [2001:db8::1-4]:80 with IPv6).
	Client, Server netip.AddrPort
	IPv6           bool
	// Start is the time of the SYN; zero is Options.Start.
	Start time.Time
	// MSS is the largest TCP payload per segment; 0 is 1460 (1440 on IPv6).
	MSS int
	// FixISN uses ClientISN and ServerISN as the initial sequence numbers;
	// otherwise both are drawn from the seed.
	FixISN               bool
	ClientISN, ServerISN uint32
	// NoTCPHandshake starts the capture mid-connection: no SYN, SYN-ACK, ACK.
	NoTCPHandshake bool
	// ClientMask and ServerMask are the masking of each direction's frames
	// where a Message says MaskAuto; their own MaskAuto is RFC 6455 §5.3:
	// client frames masked with seeded keys, server frames unmasked.
	ClientMask, ServerMask MaskMode
	// NoPureACKs omits the receiver's ACK-only segments for data (FINs are
	// still acknowledged).
	NoPureACKs bool
	// RTT is the round-trip time; the peer's ACK or answer follows a
	// segment after RTT/2, the capture point being in the middle. 0 is
	// 200µs.
	RTT time.Duration
	// Gap is the time from the end of one step to the start of the next;
	// 0 is 1ms, negative is none. Jitter adds a seeded uniform [0, Jitter).
	Gap, Jitter time.Duration
	// SegmentGap separates consecutive segments of one write; 0 is 10µs,
	// negative is none.
	SegmentGap time.Duration
	// DeflateLevel is the compress/flate level for permessage-deflate;
	// 0 is flate.BestSpeed (what gorilla/websocket and coder/websocket use).
	DeflateLevel int
	// PersistentDeflate keeps one flate.Writer per context-takeover
	// direction for the connection's life instead of priming a pooled one
	// from history per message (see Deflate).
	PersistentDeflate bool
	// Transform, when set, rewrites the connection's segments before they
	// are serialised (see Transform); the connection is then generated
	// whole when it starts.
	Transform Transform
	// IPTransform, when set, rewrites the IP packet built for each segment
	// (see IPTransform): IP fragmentation.
	IPTransform IPTransform
	// TLS carries the connection in TLS 1.3 records after a TLS
	// handshake, as wss:// (see tls.go); its secrets go to
	// Options.KeyLog. SNI is the ClientHello's server name ("" for none).
	TLS bool
	SNI string
	// H2 carries the WebSocket over HTTP/2 (RFC 8441) on stream 1: the
	// client preface and SETTINGS, an extended CONNECT answered by 200
	// in place of the HTTP/1.1 upgrade, and every later write in DATA
	// frames of at most 16,384 bytes (see h2.go). With TLS it is h2 in
	// TLS; without, h2c with prior knowledge.
	H2 bool
}

// Compress says whether a data message is compressed (RFC 7692 §6).
type Compress uint8

// Compression choices.
const (
	CompressAuto Compress = iota // when permessage-deflate was negotiated
	CompressOff                  // never: RSV1 clear
	CompressOn                   // always, even without negotiation
)

// MaskMode says whether frames are masked (RFC 6455 §5.3).
type MaskMode uint8

// Masking choices.
const (
	MaskAuto MaskMode = iota // client frames masked with a seeded key, server frames not
	MaskOff                  // unmasked
	MaskOn                   // masked with a seeded key
)

// Message is one WebSocket message (RFC 6455 §5.4, §5.6).
type Message struct {
	// Opcode of the first frame: OpText, OpBinary, or a control opcode for
	// a single control frame (any value is written as given).
	Opcode Opcode
	// Payload is the plaintext. When nil and Size > 0, Size bytes are
	// generated at write time from the connection's seeded generator:
	// JSON-like UTF-8 for OpText, binary otherwise.
	Payload []byte
	Size    int
	// Fragments splits the message (after compression) into this many
	// frames of near-equal size: the first with Opcode, the rest
	// continuation frames, FIN on the last. 0 or 1 is one frame.
	Fragments int
	// Controls are control frames written between the fragments.
	Controls []Control
	Compress Compress
	Mask     MaskMode
	// Length forces a length form on every frame of the message.
	Length LengthForm
	// Hold keeps the bytes back so that they share a segment with the next
	// write in this direction (see Conn.Push).
	Hold bool
}

// Control is a control frame interleaved in a fragmented message.
type Control struct {
	// After is the index of the fragment it follows (0 is after the first
	// fragment); negative is before the first, past the last is after it.
	After   int
	Opcode  Opcode
	Payload []byte
}

// Conn is a scripted connection. Its methods record steps, one per call,
// that run only when the capture is written; each step that writes gets the
// connection's next timestamp. A Conn belongs to one Capture.
type Conn struct {
	opts  ConnOptions
	id    int
	steps []step
}

type step func(s *connState)

// NewConn returns an empty connection for a Capture source (see
// Capture.AddSource); Capture.Conn creates and adds one directly.
func NewConn(o ConnOptions) *Conn { return &Conn{opts: o, id: -1} }

// ID returns the connection's number in its capture, or -1 before it is
// assigned (sources' connections get theirs when Write pulls them).
func (c *Conn) ID() int { return c.id }

// Steps returns the number of steps recorded so far, which is the index
// the next call's segments carry in Segment.Step.
func (c *Conn) Steps() int { return len(c.steps) }

func (c *Conn) add(f step) { c.steps = append(c.steps, f) }

// Handshake writes the opening handshake (RFC 6455 §4): the client's
// request, then after ServerDelay the server's response.
func (c *Conn) Handshake(h Handshake) { c.add(func(s *connState) { s.handshake(&h) }) }

// Send writes one message from d.
func (c *Conn) Send(d Direction, m Message) { c.add(func(s *connState) { s.send(d, &m) }) }

// Text sends a text message from d.
func (c *Conn) Text(d Direction, text string) {
	c.Send(d, Message{Opcode: OpText, Payload: []byte(text)})
}

// Binary sends a binary message from d.
func (c *Conn) Binary(d Direction, b []byte) {
	c.Send(d, Message{Opcode: OpBinary, Payload: nonNil(b)})
}

// Ping sends a Ping frame from d (RFC 6455 §5.5.2).
func (c *Conn) Ping(d Direction, b []byte) { c.Send(d, Message{Opcode: OpPing, Payload: nonNil(b)}) }

// Pong sends a Pong frame from d (RFC 6455 §5.5.3).
func (c *Conn) Pong(d Direction, b []byte) { c.Send(d, Message{Opcode: OpPong, Payload: nonNil(b)}) }

// Close sends a Close frame from d with code and reason (RFC 6455 §5.5.1);
// code 0 with an empty reason sends an empty Close.
func (c *Conn) Close(d Direction, code uint16, reason string) {
	c.Send(d, Message{Opcode: OpClose, Payload: nonNil(ClosePayload(code, reason))})
}

// RawFrame writes f from d as given. It is counted as a raw frame in the
// manifest, not as a message, and is not in the digest.
func (c *Conn) RawFrame(d Direction, f Frame) { c.add(func(s *connState) { s.rawFrame(d, &f) }) }

// Raw appends b to d's byte stream as it is (garbage, hostile input,
// hand-made frames). Not in the manifest's messages or digest.
func (c *Conn) Raw(d Direction, b []byte) { c.add(func(s *connState) { s.raw(d, b) }) }

// Hold makes later writes from d accumulate without being sent, so that
// several writes share segments, until Push.
func (c *Conn) Hold(d Direction) { c.add(func(s *connState) { s.holding[d] = true }) }

// Push sends d's held bytes now and ends Hold. Segments take the given
// sizes in turn (a size ≤ 0 is the MSS), then the MSS.
func (c *Conn) Push(d Direction, sizes ...int) {
	c.add(func(s *connState) {
		s.holding[d] = false
		s.flush(d, sizes, true)
	})
}

// Wait advances the connection's clock by dur (a negative dur is ignored:
// the clock never goes back).
func (c *Conn) Wait(dur time.Duration) {
	c.add(func(s *connState) { s.now += max(0, int64(dur)) })
}

// FIN half-closes d: its held bytes, then FIN|ACK, then the peer's ACK.
func (c *Conn) FIN(d Direction) { c.add(func(s *connState) { s.fin(d) }) }

// Teardown closes TCP both ways, the server first as RFC 6455 §7.1.1 asks:
// server FIN|ACK, client FIN|ACK, server ACK.
func (c *Conn) Teardown() { c.add(func(s *connState) { s.teardown() }) }

// Reset sends RST|ACK from d after its held bytes.
func (c *Conn) Reset(d Direction) { c.add(func(s *connState) { s.reset(d) }) }

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
