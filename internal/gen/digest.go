package gen

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Digest is an order-independent fingerprint of a set of WebSocket
// messages, so that an analyzer's decoded messages can be compared with
// what the generator wrote without comparing order.
//
// For each message, Add takes SHA-256 over one direction byte (0 for
// client→server, 1 for server→client), one opcode byte (the opcode of the
// message's first frame: text 0x1, binary 0x2, close 0x8, ping 0x9,
// pong 0xA, or whatever was sent), and the plaintext payload: unmasked,
// decompressed and defragmented (for close, the whole payload: code and
// reason). Sum is the sum modulo 2^64 of the first 8 bytes of each hash read
// big-endian; Count is the number of messages added. Every message goes in:
// data and control frames alike.
type Digest struct {
	Sum   uint64
	Count int
}

// Add adds one message.
func (d *Digest) Add(fromClient bool, opcode byte, payload []byte) {
	d.Sum += MessageHash(fromClient, opcode, payload)
	d.Count++
}

// Merge adds every message of o.
func (d *Digest) Merge(o Digest) {
	d.Sum += o.Sum
	d.Count += o.Count
}

// String returns Sum as 16 lowercase hex digits.
func (d Digest) String() string { return fmt.Sprintf("%016x", d.Sum) }

// ParseDigest parses the output of Digest.String (Count is left zero).
func ParseDigest(s string) (Digest, error) {
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return Digest{}, fmt.Errorf("gen: bad digest %q: %w", s, err)
	}
	return Digest{Sum: v}, nil
}

// MessageHash returns the per-message term of a Digest: the first 8 bytes,
// big-endian, of SHA-256(dir || opcode || payload), dir being 0 for a
// message from the client and 1 from the server.
func MessageHash(fromClient bool, opcode byte, payload []byte) uint64 {
	var pre [2]byte
	if !fromClient {
		pre[0] = 1
	}
	pre[1] = opcode
	h := sha256.New()
	h.Write(pre[:])
	h.Write(payload)
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0]))
}
