// Package http2 recognises HTTP/2 connections (RFC 9113): the client
// connection preface and the frame layer.
package http2

import "bytes"

// Preface is the client connection preface (RFC 9113 §3.4).
const Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// StartsPreface reports whether b, the first bytes a client sent, is the
// connection preface or its beginning (at least 4 bytes of it).
func StartsPreface(b []byte) bool {
	n := min(len(b), len(Preface))
	return n >= 4 && bytes.Equal(b[:n], []byte(Preface[:n]))
}

// StartsSettings reports whether b, the first bytes a server sent, starts
// with the server connection preface: a SETTINGS frame (RFC 9113 §3.4)
// that is not an acknowledgement, on stream 0, of a multiple of 6 bytes.
func StartsSettings(b []byte) bool {
	h, ok := ParseFrameHeader(b)
	return ok && h.Type == 4 && h.Flags == 0 && h.StreamID == 0 && !h.Reserved && h.Length%6 == 0 && h.Length <= 6*16
}

// FrameHeaderLen is the length of a frame header (RFC 9113 §4.1).
const FrameHeaderLen = 9

// FrameHeader is the fixed part of an HTTP/2 frame (RFC 9113 §4.1).
type FrameHeader struct {
	Length   uint32
	Type     uint8
	Flags    uint8
	StreamID uint32
	Reserved bool // the R bit, which a sender must leave unset
}

// ParseFrameHeader reads a frame header from the start of b; ok is false
// when b is shorter than one.
func ParseFrameHeader(b []byte) (h FrameHeader, ok bool) {
	if len(b) < FrameHeaderLen {
		return h, false
	}
	h.Length = uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	h.Type, h.Flags = b[3], b[4]
	h.Reserved = b[5]&0x80 != 0
	h.StreamID = (uint32(b[5])<<24 | uint32(b[6])<<16 | uint32(b[7])<<8 | uint32(b[8])) & 0x7fffffff
	return h, true
}

// plausible reports whether h could be a frame of a connection that kept
// the default SETTINGS_MAX_FRAME_SIZE: a type of RFC 9113 (DATA to
// CONTINUATION), the R bit clear, the length within 2^14, connection-level
// types on stream 0 and stream-level ones elsewhere.
func (h FrameHeader) plausible() bool {
	if h.Type > 9 || h.Reserved || h.Length > 1<<14 {
		return false
	}
	switch h.Type {
	case 4, 6, 7: // SETTINGS, PING, GOAWAY
		return h.StreamID == 0
	case 8: // WINDOW_UPDATE
		return h.Length == 4
	default:
		return h.StreamID != 0
	}
}

// FrameChain reports whether b, from its start or from a later offset,
// holds at least two plausible frame headers that chain, each length
// pointing at the next, to exactly the end of b. Only the first 64
// offsets are tried. It tells a stream picked up mid-connection that
// carries HTTP/2.
func FrameChain(b []byte) bool {
	const chainMax = 64
	for start := 0; start < len(b) && start < chainMax; start++ {
		i, n := start, 0
		for i < len(b) {
			h, ok := ParseFrameHeader(b[i:])
			if !ok || !h.plausible() {
				break
			}
			i += FrameHeaderLen + int(h.Length)
			n++
		}
		if i == len(b) && n >= 2 {
			return true
		}
	}
	return false
}
