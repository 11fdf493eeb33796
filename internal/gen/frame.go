package gen

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// LengthForm selects the payload length encoding of a frame header
// (RFC 6455 §5.2): 7-bit, 7+16-bit (126) or 7+64-bit (127).
type LengthForm uint8

// Length forms. LengthMinimal picks the shortest form that holds the
// length, as §5.2 requires; the others force a form, which is a protocol
// violation when it is longer than needed.
const (
	LengthMinimal LengthForm = iota
	Length7
	Length16
	Length64
)

// String returns "minimal", "7", "16" or "64".
func (l LengthForm) String() string {
	switch l {
	case LengthMinimal:
		return "minimal"
	case Length7:
		return "7"
	case Length16:
		return "16"
	case Length64:
		return "64"
	}
	return fmt.Sprintf("lengthform(%d)", uint8(l))
}

// ErrLengthForm reports a forced length form too short for the payload.
var ErrLengthForm = errors.New("gen: payload does not fit the forced length form")

// Frame is one WebSocket frame as written on the wire (RFC 6455 §5.2).
// Payload is the plaintext; AppendFrame masks a copy when Masked is set,
// with Key used verbatim (a zero key is a valid key).
type Frame struct {
	Fin              bool
	RSV1, RSV2, RSV3 bool
	Opcode           Opcode
	Masked           bool
	Key              [4]byte
	Payload          []byte
	Length           LengthForm
}

// HeaderLen returns the encoded header length of f (2 to 14 bytes).
func (f *Frame) HeaderLen() (int, error) {
	n := 2
	switch form, err := lengthForm(f.Length, len(f.Payload)); {
	case err != nil:
		return 0, err
	case form == Length16:
		n += 2
	case form == Length64:
		n += 8
	}
	if f.Masked {
		n += 4
	}
	return n, nil
}

func lengthForm(l LengthForm, n int) (LengthForm, error) {
	switch l {
	case LengthMinimal:
		switch {
		case n <= 125:
			return Length7, nil
		case n <= 0xFFFF:
			return Length16, nil
		}
		return Length64, nil
	case Length7:
		if n > 125 {
			return 0, fmt.Errorf("%w: %d bytes in the 7-bit form", ErrLengthForm, n)
		}
	case Length16:
		if n > 0xFFFF {
			return 0, fmt.Errorf("%w: %d bytes in the 16-bit form", ErrLengthForm, n)
		}
	case Length64:
	default:
		return 0, fmt.Errorf("gen: bad length form %d", l)
	}
	return l, nil
}

// AppendFrame appends the wire encoding of f to dst (RFC 6455 §5.2).
// It fails only when a forced length form cannot hold the payload.
func AppendFrame(dst []byte, f Frame) ([]byte, error) {
	form, err := lengthForm(f.Length, len(f.Payload))
	if err != nil {
		return dst, err
	}
	b0 := byte(f.Opcode & 0xF)
	if f.Fin {
		b0 |= 0x80
	}
	if f.RSV1 {
		b0 |= 0x40
	}
	if f.RSV2 {
		b0 |= 0x20
	}
	if f.RSV3 {
		b0 |= 0x10
	}
	var b1 byte
	if f.Masked {
		b1 = 0x80
	}
	n := len(f.Payload)
	switch form {
	case Length7:
		dst = append(dst, b0, b1|byte(n))
	case Length16:
		dst = append(dst, b0, b1|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	case Length64:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if !f.Masked {
		return append(dst, f.Payload...), nil
	}
	dst = append(dst, f.Key[:]...)
	start := len(dst)
	dst = append(dst, f.Payload...)
	Mask(f.Key, 0, dst[start:])
	return dst, nil
}

// Mask XORs b in place with key (RFC 6455 §5.3), starting at key byte
// pos%4, and returns the key position after b so that chunks of one
// payload can be masked in turn. Masking twice unmasks.
func Mask(key [4]byte, pos int, b []byte) int {
	pos &= 3
	for len(b) > 0 && pos != 0 {
		b[0] ^= key[pos]
		b = b[1:]
		pos = (pos + 1) & 3
	}
	if len(b) >= 8 {
		k32 := uint64(binary.LittleEndian.Uint32(key[:]))
		k := k32 | k32<<32
		for len(b) >= 32 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
			binary.LittleEndian.PutUint64(b[8:], binary.LittleEndian.Uint64(b[8:])^k)
			binary.LittleEndian.PutUint64(b[16:], binary.LittleEndian.Uint64(b[16:])^k)
			binary.LittleEndian.PutUint64(b[24:], binary.LittleEndian.Uint64(b[24:])^k)
			b = b[32:]
		}
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= key[pos]
		pos = (pos + 1) & 3
	}
	return pos
}

// ClosePayload returns the payload of a Close frame carrying code and
// reason (RFC 6455 §5.5.1); code 0 gives an empty payload.
func ClosePayload(code uint16, reason string) []byte {
	if code == 0 && reason == "" {
		return nil
	}
	b := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(b, code)
	return append(b, reason...)
}
