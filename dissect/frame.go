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
