package pcap

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
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

// FileSecrets returns the TLS key logs of the Decryption Secrets Blocks of
// the capture file name, gzip-compressed or not (see DecryptionSecrets);
// nil for a file that is not pcapng.
func FileSecrets(name string) ([][]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		return DecryptionSecrets(&forwardSeeker{r: zr})
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return DecryptionSecrets(f)
}

// forwardSeeker lets DecryptionSecrets walk a stream that cannot seek
// (gzip): a seek forward from the current offset reads and discards.
type forwardSeeker struct{ r io.Reader }

func (s *forwardSeeker) Read(p []byte) (int, error) { return s.r.Read(p) }

func (s *forwardSeeker) Seek(off int64, whence int) (int64, error) {
	if whence != io.SeekCurrent || off < 0 {
		return 0, errors.New("pcapng in gzip: only forward seeks")
	}
	if _, err := io.CopyN(io.Discard, s.r, off); err != nil {
		return 0, err
	}
	return 0, nil // the offset is not needed by DecryptionSecrets
}
