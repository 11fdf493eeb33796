package gen

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"time"
)

// Segment is one TCP segment of a connection before serialisation; a
// Transform sees and may rewrite them. Payload may be shared with other
// segments: copy it before changing its bytes.
type Segment struct {
	Time    time.Time
	Dir     Direction
	Seq     uint32
	Ack     uint32
	Flags   TCPFlags
	Window  uint16
	Payload []byte
	// Step is the index of the Conn call that produced the segment
	// (see Conn.Steps); -1 for the TCP handshake, and len(steps) for bytes
	// still held when the script ended.
	Step int
}

// connState is a connection while its steps run.
type connState struct {
	h2     bool // writes go in HTTP/2 DATA frames of stream 1 (h2.go)
	c      *Conn
	id     int
	rng    *rand.Rand
	addr   [2]netip.AddrPort
	ip     [2]net.IP
	mac    [2]net.HardwareAddr
	v6     bool
	mss    int
	rtt    int64
	gap    int64
	jitter int64
	segGap int64

	start int64 // time of the first step
	now   int64 // the step's time cursor
	last  int64 // latest segment time so far
	next  int   // next step index
	step  int   // index of the running step

	seq     [2]uint32
	ipid    [2]uint16
	pend    [2][]byte
	holding [2]bool
	deflate *Deflate
	comp    [2]*compressor
	pool    writerPool
	level   int
	persist bool
	out     []Segment
	tls     *tlsState // ConnOptions.TLS: what flush seals its bytes with
	man     ConnManifest
	digest  Digest
	record  bool
	manIdx  int
	err     error
}

func (s *connState) fail(err error) {
	if s.err == nil {
		s.err = fmt.Errorf("gen: conn %d step %d: %w", s.id, s.step, err)
	}
}

func (s *connState) window(d Direction, syn bool) uint16 {
	switch {
	case syn && d == FromClient:
		return 64240
	case syn:
		return 65160
	case d == FromClient:
		return 502
	}
	return 509
}

// emit appends one segment at time t from d, advancing d's sequence number.
func (s *connState) emit(d Direction, t int64, flags TCPFlags, payload []byte) {
	seg := Segment{
		Time:    time.Unix(0, t).UTC(),
		Dir:     d,
		Seq:     s.seq[d],
		Flags:   flags,
		Window:  s.window(d, flags&FlagSYN != 0),
		Payload: payload,
		Step:    s.step,
	}
	if flags&FlagACK != 0 {
		seg.Ack = s.seq[d.Peer()]
	}
	s.seq[d] += uint32(len(payload))
	if flags&(FlagSYN|FlagFIN) != 0 {
		s.seq[d]++
	}
	s.out = append(s.out, seg)
	s.last = max(s.last, t)
}

// tcpHandshake emits SYN, SYN-ACK and ACK (RFC 9293 §3.5).
func (s *connState) tcpHandshake() {
	t := s.now
	s.emit(FromClient, t, FlagSYN, nil)
	s.emit(FromServer, t+s.rtt/2, FlagSYN|FlagACK, nil)
	s.emit(FromClient, t+s.rtt, FlagACK, nil)
	s.now = t + s.rtt
}

// write appends b to d's stream and sends it unless held.
func (s *connState) write(d Direction, b []byte, hold bool) {
	s.pend[d] = append(s.pend[d], b...)
	if !hold && !s.holding[d] {
		s.flush(d, nil, true)
	}
}

// flush sends d's pending bytes at s.now: MSS-sized segments (or the given
// sizes first), PSH on the last, SegmentGap apart; the peer ACKs every
// second segment and the last one after RTT/2 when ack is set. s.now ends
// at the last data segment.
func (s *connState) flush(d Direction, sizes []int, ack bool) {
	data := s.pend[d]
	s.pend[d] = nil
	if len(data) == 0 {
		return
	}
	if s.h2 {
		data = h2Data(data)
	}
	if s.tls != nil {
		data = s.sealTLS(d, data)
	}
	ack = ack && !s.c.opts.NoPureACKs
	t := s.now
	for n := 1; len(data) > 0; n++ {
		size := s.mss
		if len(sizes) > 0 {
			if sizes[0] > 0 {
				size = sizes[0]
			}
			sizes = sizes[1:]
		}
		size = min(size, len(data))
		flags := FlagACK
		if size == len(data) {
			flags |= FlagPSH
		}
		s.emit(d, t, flags, data[:size:size])
		data = data[size:]
		if ack && (len(data) == 0 || n%2 == 0) {
			s.emit(d.Peer(), t+s.rtt/2, FlagACK, nil)
		}
		if len(data) > 0 {
			t += s.segGap
		}
	}
	s.now = t
}

func (s *connState) handshake(h *Handshake) {
	if s.c.opts.H2 {
		s.h2Handshake(h)
		return
	}
	key := h.Key
	if key == "" {
		var k [16]byte
		for i := 0; i < 16; i += 8 {
			v := s.rng.Uint64()
			for j := range 8 {
				k[i+j] = byte(v >> (8 * j))
			}
		}
		key = base64.StdEncoding.EncodeToString(k[:])
	}
	host := h.Host
	if host == "" {
		host = s.addr[FromServer].String()
		if s.addr[FromServer].Port() == 80 {
			host = s.addr[FromServer].Addr().String()
			if s.v6 {
				host = "[" + host + "]"
			}
		}
	}
	answered := !h.NoResponse && !h.ResponseWithFirstFrame
	s.pend[FromClient] = append(s.pend[FromClient], h.request(host, key)...)
	s.flush(FromClient, nil, !answered)
	if h.NoResponse {
		return
	}
	delay := int64(h.ServerDelay)
	if delay <= 0 {
		delay = s.rtt
	}
	s.now += delay
	s.write(FromServer, h.response(key), h.ResponseWithFirstFrame)
	s.negotiated(h, h.status())
}

// negotiated records what the handshake's answer (status) settled, in
// the manifest and for the messages to come.
func (s *connState) negotiated(h *Handshake, status int) {
	s.man.Status = status
	s.man.Subprotocol = h.Protocol
	s.man.Extensions = h.extensions()
	if h.Deflate != nil {
		d := *h.Deflate
		s.deflate = &d
		s.man.Deflate = &d
	}
}

func (s *connState) compressor(d Direction) *compressor {
	if s.comp[d] == nil {
		var p Deflate
		if s.deflate != nil {
			p = *s.deflate
		}
		s.comp[d] = newCompressor(s.pool, p, d, s.level, s.persist)
	}
	return s.comp[d]
}

func (s *connState) maskKey() [4]byte {
	v := s.rng.Uint32()
	return [4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}

func (s *connState) masked(d Direction, m MaskMode) bool {
	if m == MaskAuto {
		m = s.c.opts.ClientMask
		if d == FromServer {
			m = s.c.opts.ServerMask
		}
	}
	switch m {
	case MaskOff:
		return false
	case MaskOn:
		return true
	}
	return d == FromClient
}

// count records one message in the manifest and digest.
func (s *connState) count(d Direction, op Opcode, payload []byte, compressed bool, frames int) {
	c := &s.man.Traffic.Client
	if d == FromServer {
		c = &s.man.Traffic.Server
	}
	c.count(op, len(payload), compressed, frames)
	h := MessageHash(d == FromClient, byte(op), payload)
	s.digest.Sum += h
	s.digest.Count++
	if s.record {
		s.man.Messages = append(s.man.Messages, MessageRecord{
			From: d.String(), Opcode: op, Size: len(payload),
			Compressed: compressed, Frames: frames, Hash: fmt.Sprintf("%016x", h),
		})
	}
}

func (s *connState) send(d Direction, m *Message) {
	payload := m.Payload
	if payload == nil && m.Size > 0 {
		payload = generate(s.rng, m.Opcode, m.Size)
	}
	var compress bool
	switch m.Compress {
	case CompressAuto:
		compress = s.deflate != nil && !m.Opcode.IsControl()
	case CompressOn:
		compress = true
	}
	wire := payload
	if compress {
		wire = s.compressor(d).compress(payload)
	}
	nfrag := max(1, m.Fragments)
	masked := s.masked(d, m.Mask)
	buf := slices.Grow(s.pend[d], len(wire)+14*(nfrag+len(m.Controls))+len(m.Controls)*125)
	ctrl := func(c *Control) {
		f := Frame{Fin: true, Opcode: c.Opcode, Masked: masked, Payload: c.Payload, Length: m.Length}
		if masked {
			f.Key = s.maskKey()
		}
		var err error
		if buf, err = AppendFrame(buf, f); err != nil {
			s.fail(err)
		}
		s.count(d, c.Opcode, c.Payload, false, 1)
	}
	for i := range m.Controls {
		if m.Controls[i].After < 0 {
			ctrl(&m.Controls[i])
		}
	}
	base, extra := len(wire)/nfrag, len(wire)%nfrag
	off := 0
	for i := range nfrag {
		n := base
		if i < extra {
			n++
		}
		f := Frame{Fin: i == nfrag-1, RSV1: compress && i == 0, Opcode: OpContinuation,
			Masked: masked, Payload: wire[off : off+n], Length: m.Length}
		off += n
		if i == 0 {
			f.Opcode = m.Opcode
		}
		if masked {
			f.Key = s.maskKey()
		}
		var err error
		if buf, err = AppendFrame(buf, f); err != nil {
			s.fail(err)
		}
		for j := range m.Controls {
			if a := m.Controls[j].After; a == i || (i == nfrag-1 && a > i) {
				ctrl(&m.Controls[j])
			}
		}
	}
	s.count(d, m.Opcode, payload, compress, nfrag)
	s.pend[d] = buf
	if !m.Hold && !s.holding[d] {
		s.flush(d, nil, true)
	}
}

func (s *connState) rawFrame(d Direction, f *Frame) {
	buf, err := AppendFrame(s.pend[d], *f)
	if err != nil {
		s.fail(err)
	}
	s.pend[d] = buf
	s.man.RawFrames++
	if !s.holding[d] {
		s.flush(d, nil, true)
	}
}

func (s *connState) raw(d Direction, b []byte) {
	s.man.RawBytes += len(b)
	s.write(d, b, false)
}

func (s *connState) fin(d Direction) {
	s.flush(d, nil, true)
	s.emit(d, s.now, FlagFIN|FlagACK, nil)
	s.emit(d.Peer(), s.now+s.rtt/2, FlagACK, nil)
}

func (s *connState) teardown() {
	s.flush(FromClient, nil, true)
	s.flush(FromServer, nil, true)
	t := s.now
	s.emit(FromServer, t, FlagFIN|FlagACK, nil)
	s.emit(FromClient, t+s.rtt/2, FlagFIN|FlagACK, nil)
	s.emit(FromServer, t+s.rtt, FlagACK, nil)
}

func (s *connState) reset(d Direction) {
	s.flush(d, nil, true)
	s.emit(d, s.now, FlagRST|FlagACK, nil)
}

// runStep runs the next step; it reports whether any remain. After a step
// that wrote, the clock moves past its last segment by Gap plus jitter.
func (s *connState) runStep() bool {
	if s.next > len(s.c.steps) {
		return false
	}
	before := len(s.out)
	if s.next == len(s.c.steps) {
		// The script ended: send whatever is still held.
		s.step = s.next
		s.flush(FromClient, nil, true)
		s.flush(FromServer, nil, true)
		s.next++
		return false
	}
	s.step = s.next
	s.c.steps[s.next](s)
	s.next++
	if len(s.out) > before {
		s.now = max(s.now, s.last) + s.gap
		if s.jitter > 0 {
			s.now += s.rng.Int64N(s.jitter)
		}
	}
	return true
}
