package dissect

import (
	"encoding/binary"
	"github.com/wscap/wscap/dissect/app"
	"math/bits"
	"unicode/utf8"
)

// dirState is what one direction of a connection carries between calls:
// the HTTP head being read, the frame being decoded and the message being
// assembled.
type dirState struct {
	// Fields are ordered hot first: a packet in the middle of a capture
	// touches the frame reader and the message assembler, the HTTP phase
	// only at the start (fewer cache lines per packet with thousands of
	// connections).

	// Frame reader (RFC 6455 §5.2).
	inFrame bool
	fLost   bool // bytes of the current frame were lost
	resync  bool // looking for a frame header after a loss
	hdrN    int
	left    uint64 // payload bytes of the current frame still to come
	key     uint32 // masking key, rotated to the next payload byte
	// histSince counts the bytes inflated since a loss (histLost), up to
	// the window: here it fills the padding after key.
	histSince uint32
	fStart    int // offset of the current frame's payload in its buffer
	fh        FrameHeader
	borrowed  []byte // the current frame's payload when it was not copied

	// Message assembler (RFC 6455 §5.4).
	mOpen       bool
	mOp         Opcode
	mCompressed bool
	mTrunc      bool
	mCapAll     bool // truncated by MaxAssembling
	// x-webkit-deflate-frame: frames inflated one by one into mBuf.
	mFrameInflated bool
	mUndecodable   bool
	mLost          bool
	closed         bool // this direction sent a Close frame
	histLost       bool // history unknown after a loss
	lostReported   bool
	mFrames        int
	mWire          int64
	mBuf           []byte // kept payload bytes (still compressed when mCompressed)
	// With Options.NoPayload, an uncompressed message's bytes are counted
	// as kept (mKept, of which mBorrowed came in one piece) and checked as
	// UTF-8 (mUTF8) instead.
	mKept        int64
	mBorrowed    bool
	mUTF8        utf8Stream
	mStart       Pos
	mInflatedLen int64  // inflated length of the compressed frames so far
	mPlainLen    int64  // length of the frames sent uncompressed
	hist         []byte // permessage-deflate history (at most the window)
	ctrl         []byte // payload of the current control frame

	hdr     [MaxHeaderLen]byte // a header that arrived in pieces
	skipped int64              // bytes passed over while resynchronising

	// HTTP phase.
	http     []byte // a head that arrived in pieces
	scan     int    // where the search for the head's end resumes
	bodyLeft int64  // bytes of an ordinary request body still to skip
	sawHTTP  bool
}

func (s *dirState) startFrames(c *Session, dir Direction) {
	s.http = nil
}

// feedFrames decodes the frames in b, which follows the bytes fed before.
func (s *dirState) feedFrames(c *Session, dir Direction, p Pos, b []byte) {
	for len(b) > 0 {
		if s.resync {
			b = s.resyncScan(c, dir, p, b)
			continue
		}
		if !s.inFrame {
			var h FrameHeader
			var err error
			var n int
			if s.hdrN > 0 {
				k := copy(s.hdr[s.hdrN:], b)
				h, n, err = ParseFrameHeader(s.hdr[:s.hdrN+k])
				if err != nil {
					s.hdrN += k
					b = b[k:]
					continue
				}
				b = b[n-s.hdrN:]
				s.hdrN = 0
			} else {
				h, n, err = ParseFrameHeader(b)
				if err != nil {
					s.hdrN = copy(s.hdr[:], b)
					return
				}
				b = b[n:]
			}
			if !s.frameStart(c, dir, p, h) {
				continue
			}
			if h.Length <= uint64(len(b)) {
				pl := b[:h.Length]
				b = b[h.Length:]
				if h.Masked {
					mask(s.key, pl)
				}
				s.payload(c, pl, true)
				s.frameEnd(c, dir, p)
				continue
			}
		}
		n := uint64(len(b))
		if n > s.left {
			n = s.left
		}
		pl := b[:n]
		b = b[n:]
		if s.fh.Masked {
			s.key = mask(s.key, pl)
		}
		s.left -= n
		s.payload(c, pl, false)
		if s.left == 0 {
			s.frameEnd(c, dir, p)
		}
	}
}

// frameStart checks a new frame header against RFC 6455 §5 and the
// negotiated extensions, and opens the frame. It returns false when the
// header is garbage and parsing must resynchronise.
func (s *dirState) frameStart(c *Session, dir Direction, p Pos, h FrameHeader) bool {
	d := c.d
	f := func(code Code, format string, args ...any) {
		d.finding(c, p, code, dir, format, args...)
	}
	dp := &c.deflate
	rules := headerRules{maxFrame: d.opts.MaxFrame, mask: maskFor(dir), deflate: dp.on, perFrame: dp.perFrame}
	faults := rules.check(&h)
	if faults&faultLengthMSB != 0 {
		f(CodeLengthMSB, "a 64-bit payload length with the most significant bit set (%#x); the frame is treated as garbage", h.Length)
		s.startResync(c, dir, p)
		return false
	}
	if faults&faultOverCap != 0 {
		d.finding(c, p, CodeFrameCapped, dir, "a %s frame header announces %d bytes, more than the frame cap of %d (Options.MaxFrame); treated as garbage", dir, h.Length, d.opts.MaxFrame)
		s.startResync(c, dir, p)
		return false
	}
	s.fh = h
	s.inFrame = true
	s.left = h.Length
	s.key = maskKey(h.Key)
	s.borrowed = nil
	s.fLost = false

	if s.closed {
		f(CodeFrameAfterClose, "the %s sent a %s frame after its Close frame", dir, h.Opcode)
	}
	if faults != 0 {
		reportFaults(f, dir, &h, &rules, faults&^lateFaults)
	}
	if h.Opcode.IsControl() {
		s.ctrl = s.ctrl[:0]
		s.fStart = 0
	} else {
		if h.Opcode == OpContinuation {
			if !s.mOpen {
				f(CodeContinuationNoMessage, "a continuation frame with no fragmented message open")
				s.openMessage(h, p, false)
			}
		} else {
			if s.mOpen {
				f(CodeMessageInterleaved, "a %s frame started while a fragmented %s message was open", h.Opcode, s.mOp)
				s.mLost = true
				s.finishMessage(c, dir, p)
			}
			s.openMessage(h, p, h.RSV&4 != 0 && dp.on)
		}
		s.fStart = len(s.mBuf)
		s.mFrames++
		s.mWire += int64(h.Length)
	}
	if faults&lateFaults != 0 {
		reportFaults(f, dir, &h, &rules, faults&lateFaults)
	}
	return true
}

// lateFaults are the faults frameStart reports after the message checks
// (a continuation with no message open, an interleaved message).
const lateFaults = faultRSV1Continuation | faultRSV

// reportFaults reports the faults of h, in the order of the rule list,
// through f. The faults that end the frame (faultLengthMSB, faultOverCap)
// are the caller's.
func reportFaults(f func(Code, string, ...any), dir Direction, h *FrameHeader, rules *headerRules, faults headerFault) {
	if faults&faultReservedOpcode != 0 {
		f(CodeReservedOpcode, "%s frame with reserved opcode %s", dir, h.Opcode)
	}
	if faults&faultMask != 0 {
		if dir == ClientToServer {
			f(CodeClientUnmasked, "client frame not masked (%s, %d bytes)", h.Opcode, h.Length)
		} else {
			f(CodeServerMasked, "server frame masked (%s, %d bytes)", h.Opcode, h.Length)
		}
	}
	if faults&faultNonMinimal != 0 {
		sent, minimal := "64-bit", "16-bit"
		if h.Len-4*btoi(h.Masked) == 4 {
			sent = "16-bit"
		}
		if h.Length < 126 {
			minimal = "7-bit"
		}
		f(CodeLengthNotMinimal, "payload length %d sent in the %s form; the %s form is required (the minimal encoding)", h.Length, sent, minimal)
	}
	if faults&faultControlLong != 0 {
		f(CodeControlTooLong, "%s frame with a %d-byte payload; control frames carry at most 125", h.Opcode, h.Length)
	}
	if faults&faultControlFragmented != 0 {
		f(CodeControlFragmented, "%s frame with FIN clear; control frames must not be fragmented", h.Opcode)
	}
	if faults&faultRSV1Control != 0 {
		f(CodeRSV1Control, "RSV1 set on a %s frame; control frames are never compressed", h.Opcode)
	}
	if faults&faultRSV1Continuation != 0 {
		f(CodeRSV1Continuation, "RSV1 set on a continuation frame; only a message's first frame carries it")
	}
	if faults&faultRSV != 0 {
		f(CodeRSVNotNegotiated, "RSV bits %03b set on a %s frame without a negotiated extension that defines them", rules.otherRSV(h), h.Opcode)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *dirState) openMessage(h FrameHeader, p Pos, compressed bool) {
	s.mOpen = true
	s.mOp = h.Opcode
	s.mCompressed = compressed
	s.mFrames = 0
	s.mWire = 0
	s.mTrunc = false
	s.mCapAll = false
	s.mFrameInflated, s.mUndecodable, s.mInflatedLen, s.mPlainLen = false, false, 0, 0
	s.mLost = false
	s.mStart = p
	s.mKept, s.mBorrowed, s.mUTF8 = 0, false, utf8Stream{}
}

// payload takes unmasked payload bytes of the current frame. whole means b
// is the frame's entire payload, in which case it may be used in place.
func (s *dirState) payload(c *Session, b []byte, whole bool) {
	max := c.d.opts.MaxMessage
	pool := &c.d.pool
	if s.fh.Opcode.IsControl() {
		if whole && int64(len(b)) <= max {
			s.borrowed = b
			return
		}
		room := max - int64(len(s.ctrl))
		if int64(len(b)) > room {
			b = b[:room]
		}
		s.ctrl = pool.grow(s.ctrl, b, int(min(s.left, 125)))
		return
	}
	single := whole && s.mFrames == 1 && s.fh.Fin && len(s.mBuf) == 0 && s.mKept == 0 && int64(len(b)) <= max
	virtual := c.d.opts.NoPayload && !s.mCompressed && !c.deflate.perFrame && !c.appWantsPayload(single)
	if single {
		if virtual {
			s.mKept, s.mBorrowed = int64(len(b)), true
			s.checkUTF8(b)
			return
		}
		s.borrowed = b
		return
	}
	room := max - int64(len(s.mBuf)) - s.mKept
	if int64(len(b)) > room {
		b = b[:room]
		s.mTrunc = true
	}
	if d := c.d; d.assembling+int64(len(b)) > d.opts.MaxAssembling {
		b = b[:min(int64(len(b)), d.opts.MaxAssembling-d.assembling)]
		if !s.mTrunc && !s.mCapAll {
			d.finding(c, d.now, CodeAssemblyCapped, 0, "messages being assembled hold %d bytes, the assembling cap (Options.MaxAssembling); this %s message is truncated", d.assembling, s.mOp)
		}
		s.mTrunc, s.mCapAll = true, true
	}
	c.d.assembling += int64(len(b))
	if virtual {
		s.mKept += int64(len(b))
		s.checkUTF8(b)
		return
	}
	s.mBuf = pool.grow(s.mBuf, b, int(min(s.left, uint64(max))))
}

// checkUTF8 takes the next kept bytes of a text message that is not kept.
func (s *dirState) checkUTF8(b []byte) {
	if s.mOp == OpText {
		s.mUTF8.write(b)
	}
}

// framePayload returns the current frame's payload as far as it was kept.
func (s *dirState) framePayload() []byte {
	if s.borrowed != nil {
		return s.borrowed
	}
	if s.fh.Opcode.IsControl() {
		return s.ctrl
	}
	return s.mBuf[s.fStart:]
}

// frameEnd completes the current frame.
func (s *dirState) frameEnd(c *Session, dir Direction, p Pos) {
	s.inFrame = false
	d := c.d
	st := c.sum.Dir(dir)
	st.Frames++
	pl := s.framePayload()
	if d.opts.Frames {
		fr := &d.frame
		*fr = Frame{From: dir, Fin: s.fh.Fin, RSV: s.fh.RSV, Opcode: s.fh.Opcode, Masked: s.fh.Masked, Key: s.fh.Key,
			Length: s.fh.Length, HeaderLen: s.fh.Len, Payload: pl, Truncated: s.fLost || uint64(len(pl)) < s.fh.Length}
		d.ev = Event{Kind: KindFrame, Conn: &c.info, Pos: p, Frame: fr}
		d.emit(&d.ev)
	}
	if s.fh.Opcode.IsControl() {
		s.controlMessage(c, dir, p, pl)
		s.borrowed = nil
		d.pool.put(s.ctrl)
		s.ctrl = nil
		return
	}
	if s.fLost {
		s.mLost = true
	}
	if c.deflate.perFrame {
		if s.fh.RSV&4 != 0 {
			s.inflateFrame(c, dir, p)
		} else {
			s.mPlainLen += int64(s.fh.Length)
		}
	}
	if s.fh.Fin {
		s.finishMessage(c, dir, p)
	}
}

// inflateFrame decompresses one frame of x-webkit-deflate-frame, the
// pre-RFC 7692 extension where every frame with RSV1 is compressed on its
// own (with context takeover), and puts the output in the message buffer
// in place of the frame's wire bytes.
func (s *dirState) inflateFrame(c *Session, dir Direction, p Pos) {
	d := c.d
	s.mFrameInflated = true
	if s.mUndecodable || s.fLost || s.mTrunc {
		s.mUndecodable = true
		s.loseContext(c, dir, p, "a compressed frame was not captured whole")
		return
	}
	wire := s.framePayload()
	if c.budget.spent {
		s.mUndecodable = true
		s.hist, s.histLost = s.hist[:0], true
		return
	}
	out, total, err := d.inf.inflate(wire, &s.hist, 1<<15, d.opts.MaxMessage-int64(s.fStart), d.inflateRoom(c, len(wire)))
	d.spend(c, p, dir, len(wire), total, err)
	if err == errInflateBudget {
		s.mUndecodable = true
		s.hist, s.histLost = s.hist[:0], true
		return
	}
	if err != nil {
		s.mUndecodable = true
		if !s.histLost {
			d.finding(c, p, CodeInflateError, dir, "a compressed x-webkit-deflate-frame frame does not inflate: %v", err)
		}
		s.loseContext(c, dir, p, "")
		return
	}
	s.histLost = false
	if total > int64(len(out)) {
		s.mTrunc = true
	}
	if s.borrowed != nil {
		s.borrowed = nil
	}
	d.assembling -= int64(len(s.mBuf) - s.fStart)
	s.mBuf = d.pool.grow(s.mBuf[:s.fStart], out, 0)
	d.assembling += int64(len(out))
	s.mInflatedLen += total
}

// controlMessage emits a control frame as a message (RFC 6455 §5.5).
func (s *dirState) controlMessage(c *Session, dir Direction, p Pos, pl []byte) {
	m := &c.d.msg
	*m = Message{From: dir, Opcode: s.fh.Opcode, Frames: 1, Payload: pl, Length: int64(s.fh.Length),
		WireLength: int64(s.fh.Length), Start: p, Incomplete: s.fLost, Truncated: uint64(len(pl)) < s.fh.Length}
	if m.Incomplete {
		m.Length = int64(len(pl))
	}
	switch {
	case s.fLost:
	case s.fh.Opcode == OpClose:
		s.closeFrame(c, dir, p, m)
	case s.fh.Opcode == OpPing:
		c.ping(dir, p, pl)
	case s.fh.Opcode == OpPong:
		c.pong(dir, p, pl)
	}
	s.emitMessage(c, dir, p, m)
}

// closeFrame decodes and checks a Close payload (RFC 6455 §5.5.1, §7.4).
func (s *dirState) closeFrame(c *Session, dir Direction, p Pos, m *Message) {
	d := c.d
	pl := m.Payload
	st := c.sum.Dir(dir)
	if !st.CloseSent {
		st.CloseSent = true
		if other := c.sum.Dir(dir.Reverse()); !other.CloseSent {
			c.sum.ClosedBy = dir
			c.sum.ClosedFirst = true
		}
	}
	s.closed = true
	switch {
	case len(pl) == 1:
		d.finding(c, p, CodeClosePayloadOneByte, dir, "a Close frame with a 1-byte payload; a status code takes 2")
		return
	case len(pl) < 2:
		return
	}
	code := int(binary.BigEndian.Uint16(pl))
	m.CloseCode = code
	if !validCloseCode(code) {
		d.finding(c, p, CodeCloseCodeInvalid, dir, "Close status code %d must not be sent", code)
	}
	reason := pl[2:]
	if utf8.Valid(reason) {
		m.CloseReason = string(reason)
	} else {
		d.finding(c, p, CodeCloseReasonUTF8, dir, "the Close reason is not valid UTF-8")
	}
	if st.CloseCode == 0 {
		st.CloseCode = code
		st.CloseReason = m.CloseReason
	}
}

// validCloseCode reports whether code may be sent in a Close frame (RFC
// 6455 §7.4.1, §7.4.2, and the IANA registry: 1012-1014 are assigned).
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// finishMessage completes the open data message: inflate, check UTF-8, emit.
func (s *dirState) finishMessage(c *Session, dir Direction, p Pos) {
	if !s.mOpen {
		return
	}
	s.mOpen = false
	d := c.d
	m := &d.msg
	pl := s.mBuf
	if s.borrowed != nil {
		pl = s.borrowed
		s.borrowed = nil
	}
	*m = Message{From: dir, Opcode: s.mOp, Frames: s.mFrames, Payload: pl, Length: s.mWire, WireLength: s.mWire,
		Compressed: s.mCompressed, Truncated: s.mTrunc, Incomplete: s.mLost, Start: s.mStart}
	kept := int64(len(pl)) + s.mKept // s.mKept: Options.NoPayload
	switch {
	case s.mFrameInflated:
		// Compressed frame by frame (x-webkit-deflate-frame): already inflated.
		m.Compressed = true
		m.Undecodable = s.mUndecodable
		m.Length = s.mInflatedLen + s.mPlainLen
		if m.Undecodable {
			m.Payload = nil
		}
	case s.mCompressed:
		s.inflateMessage(c, dir, p, m)
	case s.mTrunc && !s.mCapAll:
		d.finding(c, p, CodeMessageCapped, dir, "a %d-byte %s message is longer than the message cap of %d bytes (Options.MaxMessage); kept the first %d bytes", m.Length, m.Opcode, d.opts.MaxMessage, kept)
	}
	if m.Incomplete && !m.Compressed && kept < m.Length {
		m.Truncated = true // the bytes captured are kept; the rest was lost
	}
	if m.Opcode == OpText && !m.Undecodable {
		if s.mKept > 0 { // checked as it streamed by (Options.NoPayload)
			m.TextValid = s.mUTF8.valid(m.Truncated || m.Incomplete)
		} else {
			v := m.Payload
			if m.Truncated || m.Incomplete {
				v = trimPartialRune(v)
			}
			m.TextValid = utf8.Valid(v)
			if m.TextValid {
				m.Payload = v // without a rune cut by the cap or a loss
			}
		}
		if !m.TextValid && !m.Incomplete {
			d.finding(c, p, CodeInvalidUTF8, dir, "a %d-byte text message is not valid UTF-8", m.Length)
		}
	}
	s.emitMessage(c, dir, p, m)
	d.assembling -= int64(len(s.mBuf))
	if !s.mBorrowed {
		d.assembling -= s.mKept
	}
	d.pool.put(s.mBuf)
	s.mBuf = nil
	s.mKept, s.mBorrowed = 0, false
}

// inflateMessage decompresses a permessage-deflate message (RFC 7692 §7.2.2).
func (s *dirState) inflateMessage(c *Session, dir Direction, p Pos, m *Message) {
	d := c.d
	dp := &c.deflate
	takeover := !dp.noTakeover[dir]
	var hist *[]byte // the direction's history, kept only with context takeover
	if takeover {
		hist = &s.hist
	} else {
		s.hist, s.histLost = nil, false // no buffer held between messages
	}
	if m.Incomplete || m.Truncated {
		m.Undecodable = true
		if takeover {
			s.loseContext(c, dir, p, "a compressed message was not captured whole")
		}
		return
	}
	if c.budget.spent {
		m.Undecodable = true
		m.Payload = nil
		if takeover {
			s.hist, s.histLost = s.hist[:0], true
		}
		return
	}
	out, total, err := d.inf.inflate(m.Payload, hist, 1<<dp.bits[dir], d.opts.MaxMessage, d.inflateRoom(c, len(m.Payload)))
	d.spend(c, p, dir, len(m.Payload), total, err)
	if err == errInflateBudget {
		m.Undecodable = true
		m.Payload = nil
		if takeover {
			s.hist, s.histLost = s.hist[:0], true
		}
		return
	}
	if err != nil {
		m.Undecodable = true
		m.Payload = nil
		if s.histLost {
			// Expected: the message refers to history that was not captured.
			s.loseContext(c, dir, p, "the compression history of this direction is unknown")
			return
		}
		d.finding(c, p, CodeInflateError, dir, "a compressed %s message does not inflate: %v", m.Opcode, err)
		if takeover {
			s.loseContext(c, dir, p, "")
		}
		return
	}
	// Every reference of this message resolved: its output is exact. The
	// history is known again once what was inflated since the loss fills
	// the window; until then a later message may still refer to the lost
	// part, and failing to inflate is expected.
	if s.histLost {
		if s.histSince = uint32(min(int64(s.histSince)+total, 1<<16)); s.histSince >= 1<<dp.bits[dir] {
			s.histLost = false
		}
	}
	m.Payload = out
	m.Length = total
	if total > int64(len(out)) {
		m.Truncated = true
		d.finding(c, p, CodeMessageCapped, dir, "a message inflates to %d bytes, more than the message cap of %d bytes (Options.MaxMessage); kept the first %d", total, d.opts.MaxMessage, len(out))
	}
}

// loseContext forgets a takeover direction's history. Later messages are
// still tried with what is known: a reference into the lost part fails to
// inflate (and is marked undecodable), so whatever inflates is exact.
func (s *dirState) loseContext(c *Session, dir Direction, p Pos, why string) {
	s.hist = s.hist[:0]
	s.histLost, s.histSince = true, 0
	if !s.lostReported {
		s.lostReported = true
		if why == "" {
			why = "a compressed message could not be inflated"
		}
		c.d.finding(c, p, CodeContextLost, dir, "%s; the %s's later compressed messages that depend on it are undecodable", why, dir)
	}
}

func (s *dirState) emitMessage(c *Session, dir Direction, p Pos, m *Message) {
	st := c.sum.Dir(dir)
	st.Messages++
	st.ByOpcode[m.Opcode&0xf]++
	st.WireBytes += m.WireLength
	if !m.Undecodable {
		st.Bytes += m.Length
	}
	if m.Length > st.Largest {
		st.Largest = m.Length
	}
	if m.Compressed {
		st.Compressed++
	}
	d := c.d
	if d.opts.Frames {
		return
	}
	var probs []app.Problem
	if m.Opcode == OpText || m.Opcode == OpBinary {
		probs = c.decodeApp(dir, p, m)
	}
	d.ev = Event{Kind: KindMessage, Conn: &c.info, Pos: p, Message: m}
	d.emit(&d.ev)
	for _, pr := range probs {
		from := ServerToClient
		if pr.Client {
			from = ClientToServer
		}
		d.finding(c, p, Code(pr.Code), from, "%s", pr.Detail)
	}
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b.
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return b
		}
		if c >= 0xC0 { // a leading byte
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}

// gap handles n lost bytes (RFC 6455 has no way to resume; we do what can
// be done): inside a frame's payload the frame continues; anywhere else
// parsing resynchronises on the next plausible header.
func (s *dirState) gap(c *Session, dir Direction, p Pos, n int64) {
	if s.resync {
		return // lost bytes are reported as a gap, not as skipped
	}
	if s.inFrame && uint64(n) < s.left {
		s.left -= uint64(n)
		s.key = bits.RotateLeft32(s.key, -8*int(n%4))
		s.fLost = true
		return // inside a known frame: no message was lost whole
	}
	// Whole frames may have been lost (not when the loss ends with the
	// frame, as a snaplen cut of a packet holding one frame does): in a
	// takeover direction, a lost compressed message leaves the
	// compression history unknown.
	if (!s.inFrame || uint64(n) > s.left) && c.deflate.on && !c.deflate.noTakeover[dir] {
		s.loseContext(c, dir, p, "bytes were lost between frames")
	}
	if s.inFrame {
		n -= int64(s.left)
		s.left = 0
		s.fLost = true
		s.frameEnd(c, dir, p)
		if n == 0 {
			return // the loss ended exactly at a frame boundary
		}
	}
	s.skipped = int64(s.hdrN) // bytes of a header cut by the loss
	s.startResync(c, dir, p)
}

func (s *dirState) startResync(c *Session, dir Direction, p Pos) {
	s.resync = true
	s.hdrN = 0
	s.inFrame = false
	if s.mOpen {
		s.mLost = true
	}
}

// resyncScan looks in b for the next plausible frame header: a valid opcode
// and RSV bits, the mask bit this direction must use, a minimal length, and
// a frame end that falls on the end of b or on another plausible header.
// It returns b from that header on, or nothing when there is none.
func (s *dirState) resyncScan(c *Session, dir Direction, p Pos, b []byte) []byte {
	for i := 0; i+2 <= len(b); i++ {
		if !s.plausible(c, dir, b[i:], i == 0, true) {
			continue
		}
		s.skipped += int64(i)
		s.resync = false
		if s.mOpen {
			if h, _, _ := ParseFrameHeader(b[i:]); h.Opcode != OpContinuation {
				s.finishMessage(c, dir, p)
			}
		}
		if s.skipped > 0 {
			c.d.finding(c, p, CodeResync, dir, "frame parsing resumed after skipping %d bytes from the %s", s.skipped, dir)
		}
		s.skipped = 0
		return b[i:]
	}
	s.skipped += int64(len(b))
	return nil
}

// plausible reports whether b starts with a header this direction could
// send here. atStart accepts a frame running past the end of b when b
// starts with it; follow checks the header after it.
func (s *dirState) plausible(c *Session, dir Direction, b []byte, atStart, follow bool) bool {
	h, n, err := ParseFrameHeader(b)
	if err != nil {
		return false
	}
	// Stricter than the decoder on one point: with x-webkit-deflate-frame
	// (perFrame) the decoder takes RSV1 on a continuation, this does not.
	rules := headerRules{maxFrame: c.d.opts.MaxFrame, mask: maskFor(dir), deflate: c.deflate.on}
	if rules.check(&h) != 0 {
		return false
	}
	if h.Opcode == OpContinuation && !s.mOpen {
		return false
	}
	end := uint64(n) + h.Length
	switch {
	case end == uint64(len(b)):
		return true
	case end > uint64(len(b)):
		return atStart
	case !follow:
		return true
	}
	rest := b[end:]
	if len(rest) < 2 {
		return true
	}
	return s.plausible(c, dir, rest, false, false)
}

// flush reports what is still open in this direction when the connection
// ends: a partial frame and an unfinished message are emitted incomplete.
func (s *dirState) flush(c *Session, dir Direction, p Pos) {
	if s.inFrame || s.hdrN > 0 {
		if s.inFrame {
			s.fLost = true
			s.left = 0
			s.frameEnd(c, dir, p)
		}
		s.hdrN = 0
	}
	if s.mOpen {
		s.mLost = true
		s.finishMessage(c, dir, p)
	}
}
