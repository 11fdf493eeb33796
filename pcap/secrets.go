package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// pcapng block types and the secrets type of TLS key logs (pcapng spec,
// draft-ietf-opsawg-pcapng §4.7: Decryption Secrets Block).
const (
	blockSectionHeader = 0x0a0d0d0a
	blockSecrets       = 0x0000000a
	secretsTLSKeyLog   = 0x544c534b // "TLSK": NSS key log lines
	maxSecretsBlock    = 16 << 20
)

// DecryptionSecrets returns the TLS key logs embedded in a pcapng file
// (Decryption Secrets Blocks, as editcap --inject-secrets writes them),
// wherever they are in the file, by walking the block headers and seeking
// over the other blocks. It returns nothing for a file that is not pcapng.
// gopacket's reader skips these blocks, so they are read here.
func DecryptionSecrets(r io.ReadSeeker) ([][]byte, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, nil // too short for any pcapng file
	}
	if binary.LittleEndian.Uint32(hdr[:]) != blockSectionHeader {
		return nil, nil
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(hdr[8:]) {
	case 0x1a2b3c4d:
		bo = binary.LittleEndian
	case 0x4d3c2b1a:
		bo = binary.BigEndian
	default:
		return nil, errors.New("pcapng: section header with a bad byte-order magic")
	}
	var out [][]byte
	off := int64(0)
	for {
		typ, length := bo.Uint32(hdr[:]), bo.Uint32(hdr[4:])
		if typ == blockSectionHeader { // a new section may change the byte order
			switch binary.LittleEndian.Uint32(hdr[8:]) {
			case 0x1a2b3c4d:
				bo = binary.LittleEndian
			case 0x4d3c2b1a:
				bo = binary.BigEndian
			}
			length = bo.Uint32(hdr[4:])
		}
		if length < 12 || length%4 != 0 {
			return out, fmt.Errorf("pcapng: block at offset %d has length %d", off, length)
		}
		if typ == blockSecrets {
			if length > maxSecretsBlock {
				return out, fmt.Errorf("pcapng: a %d-byte Decryption Secrets Block", length)
			}
			// hdr holds the block type, its length and the secrets type;
			// the rest is the secrets length, the data, options and the
			// trailing length.
			rest := make([]byte, length-12)
			if _, err := io.ReadFull(r, rest); err != nil {
				return out, fmt.Errorf("pcapng: Decryption Secrets Block at offset %d: %w", off, err)
			}
			if bo.Uint32(hdr[8:]) == secretsTLSKeyLog && len(rest) >= 4 {
				if n := bo.Uint32(rest); int64(n) <= int64(len(rest)-4) {
					out = append(out, rest[4:4+n])
				}
			}
		} else if _, err := r.Seek(int64(length)-12, io.SeekCurrent); err != nil {
			return out, err
		}
		off += int64(length)
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return out, nil
			}
			return out, err
		}
	}
}

// AppendDecryptionSecretsBlock appends a little-endian pcapng Decryption
// Secrets Block holding keylog, TLS key log lines (as pcapgo's writer
// writes its blocks), to dst.
func AppendDecryptionSecretsBlock(dst []byte, keylog []byte) []byte {
	pad := (4 - len(keylog)%4) % 4
	total := uint32(12 + 8 + len(keylog) + pad)
	dst = binary.LittleEndian.AppendUint32(dst, blockSecrets)
	dst = binary.LittleEndian.AppendUint32(dst, total)
	dst = binary.LittleEndian.AppendUint32(dst, secretsTLSKeyLog)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(keylog)))
	dst = append(dst, keylog...)
	dst = append(dst, make([]byte, pad)...)
	return binary.LittleEndian.AppendUint32(dst, total)
}
