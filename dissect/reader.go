package dissect

import "math/bits"

// frameReader reads the frames of one direction of a session (RFC 6455
// §5.2): it parses each header, however the stream cut it, checks it
// against the header rules (headerRules), unmasks the payload in place
// (§5.3) and hands it to the message assembler as it arrives. After a loss
// it looks for the next plausible header (resynchronises).
type frameReader struct {
	inFrame bool   // a header was read; its payload is still to come
	lost    bool   // bytes of the current frame were lost
	resync  bool   // looking for a frame header after a loss
	key     uint32 // masking key, rotated to the next payload byte
	hdrN    int    // bytes of a header that arrived in pieces, in hdr
	left    uint64 // payload bytes of the current frame still to come
	h       FrameHeader
	skipped int64 // bytes passed over while resynchronising
	hdr     [MaxHeaderLen]byte
}

// feed reads the frames in b, which follows the bytes fed before, and
// hands their payload to a.
func (r *frameReader) feed(c *Session, dir Direction, p Pos, b []byte, a *assembler) {
	for len(b) > 0 {
		if r.resync {
			b = r.resyncScan(c, dir, p, b, a)
			continue
		}
		if !r.inFrame {
			// The header is parsed into r.h, which is the current frame's
			// once start takes it.
			var err error
			var n int
			if r.hdrN > 0 {
				k := copy(r.hdr[r.hdrN:], b)
				r.h, n, err = ParseFrameHeader(r.hdr[:r.hdrN+k])
				if err != nil {
					r.hdrN += k
					b = b[k:]
					continue
				}
				b = b[n-r.hdrN:]
				r.hdrN = 0
			} else {
				r.h, n, err = ParseFrameHeader(b)
				if err != nil {
					r.hdrN = copy(r.hdr[:], b)
					return
				}
				b = b[n:]
			}
			// Open the frame: the header rules, inline for a plain data
			// frame (see start for the rest).
			rules := headerRules{maxFrame: c.d.opts.MaxFrame, mask: maskFor(dir), deflate: c.deflate.on, perFrame: c.deflate.perFrame}
			var faults headerFault
			if !rules.plain(&r.h) {
				faults = rules.faults(&r.h)
				if !r.start(c, dir, p, faults, a) {
					continue
				}
			}
			r.inFrame = true
			r.left = r.h.Length
			r.key = maskKey(r.h.Key)
			r.lost = false
			a.frameStart(c, dir, p, &r.h, &rules, faults)
			if r.h.Length <= uint64(len(b)) {
				pl := b[:r.h.Length]
				b = b[r.h.Length:]
				if r.h.Masked {
					mask(r.key, pl)
				}
				a.payload(c, &r.h, r.left, pl, true)
				r.end(c, dir, p, a)
				continue
			}
		}
		n := uint64(len(b))
		if n > r.left {
			n = r.left
		}
		pl := b[:n]
		b = b[n:]
		if r.h.Masked {
			r.key = mask(r.key, pl)
		}
		r.left -= n
		a.payload(c, &r.h, r.left, pl, false)
		if r.left == 0 {
			r.end(c, dir, p, a)
		}
	}
}

// start takes the faults of the new frame header in r.h: it reports the
// two that make it garbage (a length with its most significant bit set,
// one over the frame cap) and starts resynchronising, returning false;
// the other faults feed reports when it opens the frame (assembler.frameStart).
func (r *frameReader) start(c *Session, dir Direction, p Pos, faults headerFault, a *assembler) bool {
	d := c.d
	h := &r.h
	switch {
	case faults&faultLengthMSB != 0:
		d.finding(c, p, CodeLengthMSB, dir, "a 64-bit payload length with the most significant bit set (%#x); the frame is treated as garbage", h.Length)
	case faults&faultOverCap != 0:
		d.finding(c, p, CodeFrameCapped, dir, "a %s frame header announces %d bytes, more than the frame cap of %d (Options.MaxFrame); treated as garbage", dir, h.Length, d.opts.MaxFrame)
	default:
		return true
	}
	r.startResync(a)
	return false
}

// lateFaults are the faults reported after the message checks of
// assembler.frameStart (a continuation with no message open, an
// interleaved message).
const lateFaults = faultRSV1Continuation | faultRSV

// reportFaults reports the faults of h, in the order of the rule list. The faults that end the frame (faultLengthMSB, faultOverCap)
// are the caller's.
func reportFaults(c *Session, p Pos, dir Direction, h *FrameHeader, rules *headerRules, faults headerFault) {
	d := c.d
	if faults&faultReservedOpcode != 0 {
		d.finding(c, p, CodeReservedOpcode, dir, "%s frame with reserved opcode %s", dir, h.Opcode)
	}
	if faults&faultMask != 0 {
		if dir == ClientToServer {
			d.finding(c, p, CodeClientUnmasked, dir, "client frame not masked (%s, %d bytes)", h.Opcode, h.Length)
		} else {
			d.finding(c, p, CodeServerMasked, dir, "server frame masked (%s, %d bytes)", h.Opcode, h.Length)
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
		d.finding(c, p, CodeLengthNotMinimal, dir, "payload length %d sent in the %s form; the %s form is required (the minimal encoding)", h.Length, sent, minimal)
	}
	if faults&faultControlLong != 0 {
		d.finding(c, p, CodeControlTooLong, dir, "%s frame with a %d-byte payload; control frames carry at most 125", h.Opcode, h.Length)
	}
	if faults&faultControlFragmented != 0 {
		d.finding(c, p, CodeControlFragmented, dir, "%s frame with FIN clear; control frames must not be fragmented", h.Opcode)
	}
	if faults&faultRSV1Control != 0 {
		d.finding(c, p, CodeRSV1Control, dir, "RSV1 set on a %s frame; control frames are never compressed", h.Opcode)
	}
	if faults&faultRSV1Continuation != 0 {
		d.finding(c, p, CodeRSV1Continuation, dir, "RSV1 set on a continuation frame; only a message's first frame carries it")
	}
	if faults&faultRSV != 0 {
		d.finding(c, p, CodeRSVNotNegotiated, dir, "RSV bits %03b set on a %s frame without a negotiated extension that defines them", rules.otherRSV(h), h.Opcode)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// end completes the current frame.
func (r *frameReader) end(c *Session, dir Direction, p Pos, a *assembler) {
	r.inFrame = false
	a.frameEnd(c, dir, p, &r.h, r.lost)
}

// midFrame reports whether the reader stopped inside a frame or its header.
func (r *frameReader) midFrame() bool { return r.inFrame || r.hdrN > 0 }

// gap handles n lost bytes (RFC 6455 has no way to resume; we do what can
// be done): inside a frame's payload the frame continues; anywhere else
// parsing resynchronises on the next plausible header.
func (r *frameReader) gap(c *Session, dir Direction, p Pos, n int64, a *assembler) {
	if r.resync {
		return // lost bytes are reported as a gap, not as skipped
	}
	if r.inFrame && uint64(n) < r.left {
		r.left -= uint64(n)
		r.key = bits.RotateLeft32(r.key, -8*int(n%4))
		r.lost = true
		return // inside a known frame: no message was lost whole
	}
	// Whole frames may have been lost (not when the loss ends with the
	// frame, as a snaplen cut of a packet holding one frame does): in a
	// takeover direction, a lost compressed message leaves the
	// compression history unknown.
	if (!r.inFrame || uint64(n) > r.left) && c.deflate.on && !c.deflate.noTakeover[dir] {
		a.loseContext(c, dir, p, "bytes were lost between frames")
	}
	if r.inFrame {
		n -= int64(r.left)
		r.left = 0
		r.lost = true
		r.end(c, dir, p, a)
		if n == 0 {
			return // the loss ended exactly at a frame boundary
		}
	}
	r.skipped = int64(r.hdrN) // bytes of a header cut by the loss
	r.startResync(a)
}

func (r *frameReader) startResync(a *assembler) {
	r.resync = true
	r.hdrN = 0
	r.inFrame = false
	if a.open {
		a.lost = true
	}
}

// resyncScan looks in b for the next plausible frame header: one that
// breaks no header rule, and a frame end that falls on the end of b or on
// another plausible header. It returns b from that header on, or nothing
// when there is none.
func (r *frameReader) resyncScan(c *Session, dir Direction, p Pos, b []byte, a *assembler) []byte {
	for i := 0; i+2 <= len(b); i++ {
		if !plausible(c, dir, a.open, b[i:], i == 0, true) {
			continue
		}
		r.skipped += int64(i)
		r.resync = false
		if a.open {
			if h, _, _ := ParseFrameHeader(b[i:]); h.Opcode != OpContinuation {
				a.finishMessage(c, dir, p)
			}
		}
		if r.skipped > 0 {
			c.d.finding(c, p, CodeResync, dir, "frame parsing resumed after skipping %d bytes from the %s", r.skipped, dir)
		}
		r.skipped = 0
		return b[i:]
	}
	r.skipped += int64(len(b))
	return nil
}

// plausible reports whether b starts with a header dir could send here
// (open: with a fragmented message open). atStart accepts a frame running
// past the end of b when b starts with it; follow checks the header after
// it.
func plausible(c *Session, dir Direction, open bool, b []byte, atStart, follow bool) bool {
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
	if h.Opcode == OpContinuation && !open {
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
	return plausible(c, dir, open, rest, false, false)
}

// flush ends a partial frame when the session ends: it is handed to a
// incomplete.
func (r *frameReader) flush(c *Session, dir Direction, p Pos, a *assembler) {
	if r.inFrame || r.hdrN > 0 {
		if r.inFrame {
			r.lost = true
			r.left = 0
			r.end(c, dir, p, a)
		}
		r.hdrN = 0
	}
}
