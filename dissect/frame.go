package dissect

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// ErrShortFrame means the bytes given end inside a frame header; the caller
// keeps them and retries with more.
var ErrShortFrame = errors.New("dissect: short frame header")

// MaxHeaderLen is the longest frame header: 2 bytes, a 64-bit length and a
// masking key (RFC 6455 §5.2).
const MaxHeaderLen = 14

// FrameHeader is the fixed part of a WebSocket frame (RFC 6455 §5.2).
type FrameHeader struct {
	Fin    bool
	RSV    uint8 // RSV1 = 4, RSV2 = 2, RSV3 = 1
	Opcode Opcode
	Masked bool
	Key    [4]byte
	Length uint64
	// Len is the size of the header on the wire: 2 to 14 bytes.
	Len int
	// NonMinimal reports that Length was encoded in more bytes than needed.
	NonMinimal bool
	// MSB reports a 64-bit length with its most significant bit set
	// (RFC 6455 §5.2 forbids it); Length keeps the announced value.
	MSB bool
}

// ParseFrameHeader decodes the frame header at the start of b. It returns
// ErrShortFrame, and consumes nothing, when b holds only part of a header.
// It never fails otherwise: every bit pattern is a header, and what the RFC
// forbids is reported by the flags and checked by the caller.
func ParseFrameHeader(b []byte) (FrameHeader, int, error) {
	var h FrameHeader
	if len(b) < 2 {
		return h, 0, ErrShortFrame
	}
	h.Fin = b[0]&0x80 != 0
	h.RSV = (b[0] >> 4) & 0x7
	h.Opcode = Opcode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n := 2
	switch l7 := b[1] & 0x7f; l7 {
	case 126:
		if len(b) < 4 {
			return h, 0, ErrShortFrame
		}
		h.Length = uint64(binary.BigEndian.Uint16(b[2:]))
		h.NonMinimal = h.Length < 126
		n = 4
	case 127:
		if len(b) < 10 {
			return h, 0, ErrShortFrame
		}
		h.Length = binary.BigEndian.Uint64(b[2:])
		h.NonMinimal = h.Length <= 0xffff
		h.MSB = h.Length>>63 != 0
		n = 10
	default:
		h.Length = uint64(l7)
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, ErrShortFrame
		}
		copy(h.Key[:], b[n:n+4])
		n += 4
	}
	h.Len = n
	return h, n, nil
}

// headerFault is one rule of RFC 6455 §5 (or of the negotiated extensions)
// that a frame header breaks; headerRules.check returns the set.
type headerFault uint16

// The rules a frame header is checked against.
const (
	faultLengthMSB         headerFault = 1 << iota // a 64-bit length with its most significant bit set (§5.2)
	faultOverCap                                   // a length over the frame cap (Options.MaxFrame)
	faultReservedOpcode                            // opcode 0x3-0x7 or 0xB-0xF (§5.2)
	faultMask                                      // the mask bit its sender must not use (§5.1)
	faultNonMinimal                                // a length not in the minimal encoding (§5.2)
	faultControlLong                               // a control frame of more than 125 bytes (§5.5)
	faultControlFragmented                         // a control frame with FIN clear (§5.5)
	faultRSV1Control                               // RSV1 on a control frame, with deflate (RFC 7692 §6.1)
	faultRSV1Continuation                          // RSV1 on a continuation frame, with deflate (RFC 7692 §6.1)
	faultRSV                                       // RSV bits no negotiated extension defines (§5.2)
)

// maskFor returns the mask rule of dir's sender: the client masks every
// frame, the server none (RFC 6455 §5.1).
func maskFor(dir Direction) maskRule {
	return maskRule{masked: dir == ClientToServer}
}

// maskRule is the mask bit a sender's frames must carry (RFC 6455 §5.1).
type maskRule struct {
	masked bool // the bit
	any    bool // either: the sender is not known (the mid-stream probe)
}

// headerRules is what a frame header is checked against: RFC 6455 §5 and
// what the handshake negotiated for its sender. The same rules serve the
// frame decoder, which reports every fault of a header, and the searches
// for a header where none is known to start (the resynchroniser after a
// loss, the mid-stream probe), which take only a header without any.
type headerRules struct {
	maxFrame uint64 // Options.MaxFrame
	mask     maskRule
	// deflate: RSV1 marks a compressed message (permessage-deflate, or
	// x-webkit-deflate-frame with perFrame, where every compressed frame
	// carries it, continuations too).
	deflate, perFrame bool
}

// check returns the rules h breaks, none for a header its sender may send.
func (r *headerRules) check(h *FrameHeader) headerFault {
	if r.plain(h) {
		return 0
	}
	return r.faults(h)
}

// plain reports whether h is a text or binary frame that breaks no rule,
// one for which check returns none; it is small enough to be inlined where
// every frame passes.
func (r *headerRules) plain(h *FrameHeader) bool {
	return (h.RSV == 0 || h.RSV == 4 && r.deflate) && h.Opcode-1 <= 1 && !h.NonMinimal && !h.MSB && h.Length <= r.maxFrame && h.Masked == r.mask.masked
}

// faults is check for any header.
func (r *headerRules) faults(h *FrameHeader) headerFault {
	var f headerFault
	if h.MSB {
		f |= faultLengthMSB
	}
	if h.Length > r.maxFrame {
		f |= faultOverCap
	}
	if h.Opcode.IsReserved() {
		f |= faultReservedOpcode
	}
	if !r.mask.any && h.Masked != r.mask.masked {
		f |= faultMask
	}
	if h.NonMinimal {
		f |= faultNonMinimal
	}
	rsv1 := h.RSV&4 != 0 && r.deflate
	if h.Opcode.IsControl() {
		if h.Length > 125 {
			f |= faultControlLong
		}
		if !h.Fin {
			f |= faultControlFragmented
		}
		if rsv1 {
			f |= faultRSV1Control
		}
	} else if rsv1 && h.Opcode == OpContinuation && !r.perFrame {
		f |= faultRSV1Continuation
	}
	if r.otherRSV(h) != 0 {
		f |= faultRSV
	}
	return f
}

// otherRSV returns the RSV bits of h that no negotiated extension defines.
func (r *headerRules) otherRSV(h *FrameHeader) uint8 {
	if r.deflate {
		return h.RSV &^ 4
	}
	return h.RSV
}

// AppendFrameHeader appends the minimal encoding of h to b (for tests and the
// capture generator's checks).
func AppendFrameHeader(b []byte, h FrameHeader) []byte {
	b0 := h.RSV<<4 | uint8(h.Opcode&0xf)
	if h.Fin {
		b0 |= 0x80
	}
	var m uint8
	if h.Masked {
		m = 0x80
	}
	switch {
	case h.Length < 126:
		b = append(b, b0, m|uint8(h.Length))
	case h.Length <= 0xffff:
		b = append(b, b0, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(h.Length))
	default:
		b = append(b, b0, m|127)
		b = binary.BigEndian.AppendUint64(b, h.Length)
	}
	if h.Masked {
		b = append(b, h.Key[:]...)
	}
	return b
}

// maskKey returns the masking key as the little-endian word that mask uses.
func maskKey(k [4]byte) uint32 { return binary.LittleEndian.Uint32(k[:]) }

// mask XORs b in place with the masking key (RFC 6455 §5.3), eight bytes at
// a time, and returns the key rotated so that the next byte continues the
// pattern: mask(mask(k, b[:i]), b[i:]) equals mask(k, b).
func mask(key uint32, b []byte) uint32 {
	if len(b) >= 8 {
		k64 := uint64(key)<<32 | uint64(key)
		for len(b) >= 64 {
			v := binary.LittleEndian.Uint64(b)
			binary.LittleEndian.PutUint64(b, v^k64)
			v = binary.LittleEndian.Uint64(b[8:])
			binary.LittleEndian.PutUint64(b[8:], v^k64)
			v = binary.LittleEndian.Uint64(b[16:])
			binary.LittleEndian.PutUint64(b[16:], v^k64)
			v = binary.LittleEndian.Uint64(b[24:])
			binary.LittleEndian.PutUint64(b[24:], v^k64)
			v = binary.LittleEndian.Uint64(b[32:])
			binary.LittleEndian.PutUint64(b[32:], v^k64)
			v = binary.LittleEndian.Uint64(b[40:])
			binary.LittleEndian.PutUint64(b[40:], v^k64)
			v = binary.LittleEndian.Uint64(b[48:])
			binary.LittleEndian.PutUint64(b[48:], v^k64)
			v = binary.LittleEndian.Uint64(b[56:])
			binary.LittleEndian.PutUint64(b[56:], v^k64)
			b = b[64:]
		}
		for len(b) >= 8 {
			v := binary.LittleEndian.Uint64(b)
			binary.LittleEndian.PutUint64(b, v^k64)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= byte(key)
		key = bits.RotateLeft32(key, -8)
	}
	return key
}
