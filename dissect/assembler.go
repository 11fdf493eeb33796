package dissect

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/wscap/wscap/dissect/app"
)

// assembler puts the frames of one direction of a session together into
// messages (RFC 6455 §5.4): a data message runs from its first frame to
// the one with FIN, a control frame is a message of its own (§5.5). It
// keeps the payload within the caps (with Options.NoPayload it only counts
// it), checks text as UTF-8, hands a compressed message to the inflater
// with the direction's history (RFC 7692 §7.2.2), and follows the sender's
// Close (§5.5.1).
type assembler struct {
	open       bool   // a data message is being assembled
	op         Opcode // its opcode
	compressed bool   // its first frame had RSV1 (permessage-deflate)
	truncated  bool   // bytes past a cap were not kept
	capped     bool   // truncated by MaxAssembling
	// framesInflated: x-webkit-deflate-frame: frames inflated one by one
	// into buf.
	framesInflated bool
	undecodable    bool
	lost           bool // bytes of the message were lost
	closed         bool // this direction sent a Close frame
	// With Options.NoPayload, an uncompressed message's bytes are counted
	// as kept (kept, of which keptBorrowed came in one piece) and checked
	// as UTF-8 (text) instead.
	keptBorrowed bool
	frames       int
	wire         int64
	at           int    // offset of the current frame's payload in buf
	borrowed     []byte // the current frame's payload when it was not copied
	buf          []byte // kept payload bytes (still compressed when compressed)
	kept         int64
	start        Pos
	ctrl         []byte // payload of the current control frame
	inflated     int64  // inflated length of the compressed frames so far
	plain        int64  // length of the frames sent uncompressed
	text         utf8Stream
	hist         history // permessage-deflate history
}

// frameStart opens frame h in the message being assembled and reports what
// is wrong with it, in this order: a frame after the sender's Close, the
// faults of its header (reportFaults; lateFaults last), a continuation
// with no message open or a message started inside another.
func (a *assembler) frameStart(c *Session, dir Direction, p Pos, h *FrameHeader, rules *headerRules, faults headerFault) {
	d := c.d
	a.borrowed = nil
	if a.closed {
		d.finding(c, p, CodeFrameAfterClose, dir, "the %s sent a %s frame after its Close frame", dir, h.Opcode)
	}
	if faults != 0 {
		reportFaults(c, p, dir, h, rules, faults&^lateFaults)
	}
	if h.Opcode.IsControl() {
		a.ctrl = a.ctrl[:0]
		a.at = 0
	} else {
		if h.Opcode == OpContinuation {
			if !a.open {
				d.finding(c, p, CodeContinuationNoMessage, dir, "a continuation frame with no fragmented message open")
				a.begin(h, p, false)
			}
		} else {
			if a.open {
				d.finding(c, p, CodeMessageInterleaved, dir, "a %s frame started while a fragmented %s message was open", h.Opcode, a.op)
				a.lost = true
				a.finishMessage(c, dir, p)
			}
			a.begin(h, p, h.RSV&4 != 0 && c.deflate.on)
		}
		a.at = len(a.buf)
		a.frames++
		a.wire += int64(h.Length)
	}
	if faults&lateFaults != 0 {
		reportFaults(c, p, dir, h, rules, faults&lateFaults)
	}
}

// begin opens a data message whose first frame is h.
func (a *assembler) begin(h *FrameHeader, p Pos, compressed bool) {
	a.open = true
	a.op = h.Opcode
	a.compressed = compressed
	a.frames = 0
	a.wire = 0
	a.truncated = false
	a.capped = false
	a.framesInflated, a.undecodable, a.inflated, a.plain = false, false, 0, 0
	a.lost = false
	a.start = p
	a.kept, a.keptBorrowed, a.text = 0, false, utf8Stream{}
}

// payload takes unmasked payload bytes of the current frame, h, of which
// left bytes are still to come after b. whole means b is the frame's
// entire payload, in which case it may be used in place (borrowed: valid
// until the frame ends).
func (a *assembler) payload(c *Session, h *FrameHeader, left uint64, b []byte, whole bool) {
	max := c.d.opts.MaxMessage
	pool := &c.d.pool
	if h.Opcode.IsControl() {
		if whole && int64(len(b)) <= max {
			a.borrowed = b
			return
		}
		room := max - int64(len(a.ctrl))
		if int64(len(b)) > room {
			b = b[:room]
		}
		a.ctrl = pool.grow(a.ctrl, b, int(min(left, 125)))
		return
	}
	single := whole && a.frames == 1 && h.Fin && len(a.buf) == 0 && a.kept == 0 && int64(len(b)) <= max
	virtual := c.d.opts.NoPayload && !a.compressed && !c.deflate.perFrame && !c.appWantsPayload(single)
	if single {
		if virtual {
			a.kept, a.keptBorrowed = int64(len(b)), true
			a.checkUTF8(b)
			return
		}
		a.borrowed = b
		return
	}
	room := max - int64(len(a.buf)) - a.kept
	if int64(len(b)) > room {
		b = b[:room]
		a.truncated = true
	}
	if d := c.d; d.assembling+int64(len(b)) > d.opts.MaxAssembling {
		b = b[:min(int64(len(b)), d.opts.MaxAssembling-d.assembling)]
		if !a.truncated && !a.capped {
			d.finding(c, d.now, CodeAssemblyCapped, 0, "messages being assembled hold %d bytes, the assembling cap (Options.MaxAssembling); this %s message is truncated", d.assembling, a.op)
		}
		a.truncated, a.capped = true, true
	}
	c.d.assembling += int64(len(b))
	if virtual {
		a.kept += int64(len(b))
		a.checkUTF8(b)
		return
	}
	a.buf = pool.grow(a.buf, b, int(min(left, uint64(max))))
}

// checkUTF8 takes the next kept bytes of a text message that is not kept.
func (a *assembler) checkUTF8(b []byte) {
	if a.op == OpText {
		a.text.write(b)
	}
}

// framePayload returns the current frame's payload as far as it was kept.
func (a *assembler) framePayload(h *FrameHeader) []byte {
	if a.borrowed != nil {
		return a.borrowed
	}
	if h.Opcode.IsControl() {
		return a.ctrl
	}
	return a.buf[a.at:]
}

// frameEnd completes the current frame, h; lost says bytes of it were lost.
func (a *assembler) frameEnd(c *Session, dir Direction, p Pos, h *FrameHeader, lost bool) {
	d := c.d
	st := c.sum.Dir(dir)
	st.Frames++
	pl := a.framePayload(h)
	if d.opts.Frames {
		fr := &d.frame
		*fr = Frame{From: dir, Fin: h.Fin, RSV: h.RSV, Opcode: h.Opcode, Masked: h.Masked, Key: h.Key,
			Length: h.Length, HeaderLen: h.Len, Payload: pl, Truncated: lost || uint64(len(pl)) < h.Length}
		d.ev = Event{Kind: KindFrame, Conn: &c.info, Pos: p, Frame: fr}
		d.emit(&d.ev)
	}
	if h.Opcode.IsControl() {
		a.controlMessage(c, dir, p, h, lost, pl)
		a.borrowed = nil
		d.pool.put(a.ctrl)
		a.ctrl = nil
		return
	}
	if lost {
		a.lost = true
	}
	if c.deflate.perFrame {
		if h.RSV&4 != 0 {
			a.inflateFrame(c, dir, p, h, lost)
		} else {
			a.plain += int64(h.Length)
		}
	}
	if h.Fin {
		a.finishMessage(c, dir, p)
	}
}

// inflateFrame decompresses one frame of x-webkit-deflate-frame, the
// pre-RFC 7692 extension where every frame with RSV1 is compressed on its
// own (with context takeover), and puts the output in the message buffer
// in place of the frame's wire bytes.
func (a *assembler) inflateFrame(c *Session, dir Direction, p Pos, h *FrameHeader, lost bool) {
	d := c.d
	a.framesInflated = true
	if a.undecodable || lost || a.truncated {
		a.undecodable = true
		a.loseContext(c, dir, p, "a compressed frame was not captured whole")
		return
	}
	wire := a.framePayload(h)
	if c.budget.spent {
		a.undecodable = true
		a.hist.buf, a.hist.lost = a.hist.buf[:0], true
		return
	}
	out, total, err := d.inf.inflate(wire, &a.hist.buf, 1<<15, d.opts.MaxMessage-int64(a.at), d.inflateRoom(c, len(wire)))
	d.spend(c, p, dir, len(wire), total, err)
	if err == errInflateBudget {
		a.undecodable = true
		a.hist.buf, a.hist.lost = a.hist.buf[:0], true
		return
	}
	if err != nil {
		a.undecodable = true
		if !a.hist.lost {
			d.finding(c, p, CodeInflateError, dir, "a compressed x-webkit-deflate-frame frame does not inflate: %v", err)
		}
		a.loseContext(c, dir, p, "")
		return
	}
	a.hist.lost = false
	if total > int64(len(out)) {
		a.truncated = true
	}
	if a.borrowed != nil {
		a.borrowed = nil
	}
	d.assembling -= int64(len(a.buf) - a.at)
	a.buf = d.pool.grow(a.buf[:a.at], out, 0)
	d.assembling += int64(len(out))
	a.inflated += total
}

// controlMessage emits a control frame as a message (RFC 6455 §5.5).
func (a *assembler) controlMessage(c *Session, dir Direction, p Pos, h *FrameHeader, lost bool, pl []byte) {
	m := &c.d.msg
	*m = Message{From: dir, Opcode: h.Opcode, Frames: 1, Payload: pl, Length: int64(h.Length),
		WireLength: int64(h.Length), Start: p, Incomplete: lost, Truncated: uint64(len(pl)) < h.Length}
	if m.Incomplete {
		m.Length = int64(len(pl))
	}
	switch {
	case lost:
	case h.Opcode == OpClose:
		a.closeFrame(c, dir, p, m)
	case h.Opcode == OpPing:
		c.ping(dir, p, pl)
	case h.Opcode == OpPong:
		c.pong(dir, p, pl)
	}
	a.emitMessage(c, dir, p, m)
}

// closeFrame decodes and checks a Close payload (RFC 6455 §5.5.1, §7.4).
func (a *assembler) closeFrame(c *Session, dir Direction, p Pos, m *Message) {
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
	a.closed = true
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
func (a *assembler) finishMessage(c *Session, dir Direction, p Pos) {
	if !a.open {
		return
	}
	a.open = false
	d := c.d
	m := &d.msg
	pl := a.buf
	if a.borrowed != nil {
		pl = a.borrowed
		a.borrowed = nil
	}
	*m = Message{From: dir, Opcode: a.op, Frames: a.frames, Payload: pl, Length: a.wire, WireLength: a.wire,
		Compressed: a.compressed, Truncated: a.truncated, Incomplete: a.lost, Start: a.start}
	kept := int64(len(pl)) + a.kept // a.kept: Options.NoPayload
	switch {
	case a.framesInflated:
		// Compressed frame by frame (x-webkit-deflate-frame): already inflated.
		m.Compressed = true
		m.Undecodable = a.undecodable
		m.Length = a.inflated + a.plain
		if m.Undecodable {
			m.Payload = nil
		}
	case a.compressed:
		a.inflateMessage(c, dir, p, m)
	case a.truncated && !a.capped:
		d.finding(c, p, CodeMessageCapped, dir, "a %d-byte %s message is longer than the message cap of %d bytes (Options.MaxMessage); kept the first %d bytes", m.Length, m.Opcode, d.opts.MaxMessage, kept)
	}
	if m.Incomplete && !m.Compressed && kept < m.Length {
		m.Truncated = true // the bytes captured are kept; the rest was lost
	}
	if m.Opcode == OpText && !m.Undecodable {
		if a.kept > 0 { // checked as it streamed by (Options.NoPayload)
			m.TextValid = a.text.valid(m.Truncated || m.Incomplete)
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
	a.emitMessage(c, dir, p, m)
	d.assembling -= int64(len(a.buf))
	if !a.keptBorrowed {
		d.assembling -= a.kept
	}
	d.pool.put(a.buf)
	a.buf = nil
	a.kept, a.keptBorrowed = 0, false
}

// inflateMessage decompresses a permessage-deflate message (RFC 7692 §7.2.2).
func (a *assembler) inflateMessage(c *Session, dir Direction, p Pos, m *Message) {
	d := c.d
	dp := &c.deflate
	takeover := !dp.noTakeover[dir]
	var hist *[]byte // the direction's history, kept only with context takeover
	if takeover {
		hist = &a.hist.buf
	} else {
		a.hist.buf, a.hist.lost = nil, false // no buffer held between messages
	}
	if m.Incomplete || m.Truncated {
		m.Undecodable = true
		if takeover {
			a.loseContext(c, dir, p, "a compressed message was not captured whole")
		}
		return
	}
	if c.budget.spent {
		m.Undecodable = true
		m.Payload = nil
		if takeover {
			a.hist.buf, a.hist.lost = a.hist.buf[:0], true
		}
		return
	}
	out, total, err := d.inf.inflate(m.Payload, hist, 1<<dp.bits[dir], d.opts.MaxMessage, d.inflateRoom(c, len(m.Payload)))
	d.spend(c, p, dir, len(m.Payload), total, err)
	if err == errInflateBudget {
		m.Undecodable = true
		m.Payload = nil
		if takeover {
			a.hist.buf, a.hist.lost = a.hist.buf[:0], true
		}
		return
	}
	if err != nil {
		m.Undecodable = true
		m.Payload = nil
		if a.hist.lost {
			// Expected: the message refers to history that was not captured.
			a.loseContext(c, dir, p, "the compression history of this direction is unknown")
			return
		}
		d.finding(c, p, CodeInflateError, dir, "a compressed %s message does not inflate: %v", m.Opcode, err)
		if takeover {
			a.loseContext(c, dir, p, "")
		}
		return
	}
	// Every reference of this message resolved: its output is exact. The
	// history is known again once what was inflated since the loss fills
	// the window; until then a later message may still refer to the lost
	// part, and failing to inflate is expected.
	if a.hist.lost {
		if a.hist.since = uint32(min(int64(a.hist.since)+total, 1<<16)); a.hist.since >= 1<<dp.bits[dir] {
			a.hist.lost = false
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
func (a *assembler) loseContext(c *Session, dir Direction, p Pos, why string) {
	a.hist.buf = a.hist.buf[:0]
	a.hist.lost, a.hist.since = true, 0
	if !a.hist.reported {
		a.hist.reported = true
		if why == "" {
			why = "a compressed message could not be inflated"
		}
		c.d.finding(c, p, CodeContextLost, dir, "%s; the %s's later compressed messages that depend on it are undecodable", why, dir)
	}
}

func (a *assembler) emitMessage(c *Session, dir Direction, p Pos, m *Message) {
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

// flush emits the unfinished message, incomplete, when the session ends.
func (a *assembler) flush(c *Session, dir Direction, p Pos) {
	if a.open {
		a.lost = true
		a.finishMessage(c, dir, p)
	}
}
