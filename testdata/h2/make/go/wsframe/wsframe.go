// Package wsframe is a tiny hand-written RFC 6455 framing layer (no extensions,
// no fragmentation on send) used to run a WebSocket over an HTTP/2 stream.
package wsframe

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
)

const (
	OpCont   = 0x0
	OpText   = 0x1
	OpBinary = 0x2
	OpClose  = 0x8
	OpPing   = 0x9
	OpPong   = 0xA
)

type Frame struct {
	Fin     bool
	Opcode  byte
	Payload []byte // unmasked
}

// Append returns b with one encoded frame appended. mask=true for client frames.
func Append(b []byte, opcode byte, payload []byte, mask bool) []byte {
	b = append(b, 0x80|opcode)
	var mb byte
	if mask {
		mb = 0x80
	}
	n := len(payload)
	switch {
	case n < 126:
		b = append(b, mb|byte(n))
	case n < 65536:
		b = append(b, mb|126, byte(n>>8), byte(n))
	default:
		b = append(b, mb|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !mask {
		return append(b, payload...)
	}
	var key [4]byte
	rand.Read(key[:])
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i&3])
	}
	return b
}

// Read reads one frame. If wantMasked, the frame must be masked (server side).
func Read(r io.Reader, wantMasked bool) (*Frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	f := &Frame{Fin: h[0]&0x80 != 0, Opcode: h[0] & 0x0f}
	if h[0]&0x70 != 0 {
		return nil, errors.New("wsframe: RSV bits set")
	}
	masked := h[1]&0x80 != 0
	if masked != wantMasked {
		return nil, errors.New("wsframe: wrong masking")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(r, e[:]); err != nil {
			return nil, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(r, e[:]); err != nil {
			return nil, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	var key [4]byte
	if masked {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			return nil, err
		}
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		return nil, err
	}
	if masked {
		for i := range f.Payload {
			f.Payload[i] ^= key[i&3]
		}
	}
	return f, nil
}

// ClosePayload builds a Close frame body.
func ClosePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// Msg is a data message as recorded in the capture JSON.
type Msg struct {
	Type   string `json:"type"`
	Text   string `json:"text,omitempty"`
	Base64 []byte `json:"base64,omitempty"` // encoding/json encodes []byte as base64
}
