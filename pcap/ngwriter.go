package pcap

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/gopacket/gopacket/layers"
)

// pcapng block types and options written by NgWriter (draft-ietf-opsawg-pcapng
// §4.1 Section Header, §4.2 Interface Description, §4.3 Enhanced Packet).
const (
	blockInterface      = 0x00000001
	blockEnhancedPacket = 0x00000006
	optEnd              = 0
	optUserAppl         = 4 // shb_userappl
	optIfName           = 2 // if_name
	optTSResol          = 9 // if_tsresol
	// maxSecretsChunk is the most key log bytes written in one Decryption
	// Secrets Block: the block then stays within maxBlock.
	maxSecretsChunk = maxBlock - 64
)

// NgWriterOptions configure an NgWriter.
type NgWriterOptions struct {
	// Application names the writer in the section header (shb_userappl);
	// empty writes no option. Nothing else that depends on the machine
	// (its OS, its hardware) is written, so that the same packets give the
	// same bytes everywhere.
	Application string
	// Secrets are TLS key logs (NSS key log lines), each written as a
	// Decryption Secrets Block (§4.7; several, cut between lines, past
	// 1 MiB) right after the section header, before any packet, where
	// Wireshark and DecryptionSecrets find them.
	Secrets [][]byte
	// BufferSize is the size of the write buffer; 0 is 64 KiB.
	BufferSize int
	// Interface names the interfaces (if_name; empty writes none) and
	// Snaplen is their snapshot length (0: no limit): a live capture's.
	Interface string
	Snaplen   int
}

// NgWriter writes packets as a little-endian pcapng file: one section
// (§4.1), the Decryption Secrets Blocks of NgWriterOptions.Secrets, then
// an Interface Description Block (§4.2) for each link type as its first
// packet comes (snapshot length 0: no limit; nanosecond timestamps), and
// an Enhanced Packet Block (§4.3) per packet. Packet bytes, timestamps (to
// the nanosecond) and both lengths are written as the Record holds them:
// the original length is not raised to the captured one when a record
// claims less, so that reading the file back gives the same Records.
//
// Unlike gopacket's pcapgo.NgWriter it adds interfaces by link type, writes
// Decryption Secrets Blocks, and writes nothing of the machine it runs on.
// Flush must be called at the end.
type NgWriter struct {
	o       NgWriterOptions
	w       *bufio.Writer
	ifaces  []layers.LinkType // interface i has link type ifaces[i]
	packets int
	buf     []byte
}

// NewNgWriter writes the section header and the secrets to w and returns
// a writer for the packets.
func NewNgWriter(w io.Writer, o NgWriterOptions) (*NgWriter, error) {
	if o.BufferSize <= 0 {
		o.BufferSize = 64 << 10
	}
	nw := &NgWriter{o: o, w: bufio.NewWriterSize(w, o.BufferSize)}
	// Section Header Block: type, length, byte-order magic, version 1.0,
	// section length unknown (-1), options, length.
	var opts []byte
	if o.Application != "" {
		opts = appendOption(opts, optUserAppl, []byte(o.Application))
		opts = binary.LittleEndian.AppendUint32(opts, optEnd)
	}
	total := uint32(28 + len(opts))
	b := binary.LittleEndian.AppendUint32(nil, blockSectionHeader)
	b = binary.LittleEndian.AppendUint32(b, total)
	b = binary.LittleEndian.AppendUint32(b, 0x1a2b3c4d)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint64(b, ^uint64(0))
	b = append(b, opts...)
	b = binary.LittleEndian.AppendUint32(b, total)
	for _, s := range o.Secrets {
		// A block longer than maxBlock is refused by File: a long key
		// log is cut between lines into several blocks.
		for len(s) > 0 {
			n := len(s)
			if n > maxSecretsChunk {
				n = bytes.LastIndexByte(s[:maxSecretsChunk], '\n') + 1
				if n == 0 {
					return nil, fmt.Errorf("pcapng: a key log line of more than %d bytes", maxSecretsChunk)
				}
			}
			b = AppendDecryptionSecretsBlock(b, s[:n])
			s = s[n:]
		}
	}
	if _, err := nw.w.Write(b); err != nil {
		return nil, err
	}
	return nw, nil
}

// appendOption appends one pcapng option, padded to 32 bits.
func appendOption(b []byte, code uint16, v []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	return append(b, make([]byte, (4-len(v)%4)%4)...)
}

// AddInterface writes the Interface Description Block of link type lt
// now, unless it was written: a file with no packet still says what it
// would have held.
func (w *NgWriter) AddInterface(lt layers.LinkType) error {
	_, err := w.iface(lt)
	return err
}

// iface returns the interface of link type lt, writing its Interface
// Description Block first when it is new.
func (w *NgWriter) iface(lt layers.LinkType) (uint32, error) {
	for i, l := range w.ifaces {
		if l == lt {
			return uint32(i), nil
		}
	}
	// type, length, link type, reserved, snaplen (0: no limit), if_name
	// when set, if_tsresol 9 (nanoseconds), end of options, length.
	var opts []byte
	if w.o.Interface != "" {
		opts = appendOption(opts, optIfName, []byte(w.o.Interface))
	}
	opts = appendOption(opts, optTSResol, []byte{9})
	opts = binary.LittleEndian.AppendUint32(opts, optEnd)
	total := uint32(20 + len(opts))
	b := binary.LittleEndian.AppendUint32(w.buf[:0], blockInterface)
	b = binary.LittleEndian.AppendUint32(b, total)
	b = binary.LittleEndian.AppendUint16(b, uint16(lt))
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(max(w.o.Snaplen, 0)))
	b = append(b, opts...)
	b = binary.LittleEndian.AppendUint32(b, total)
	w.buf = b
	if _, err := w.w.Write(b); err != nil {
		return 0, err
	}
	w.ifaces = append(w.ifaces, lt)
	return uint32(len(w.ifaces) - 1), nil
}

// WritePacket writes rec as an Enhanced Packet Block on the interface of
// its link type. rec.Data is not retained.
func (w *NgWriter) WritePacket(rec Record) error {
	if len(rec.Data) > maxBlock-64 {
		return fmt.Errorf("pcapng: a packet record of %d bytes", len(rec.Data))
	}
	id, err := w.iface(rec.LinkType)
	if err != nil {
		return err
	}
	pad := (4 - len(rec.Data)%4) % 4
	total := uint32(32 + len(rec.Data) + pad)
	ts := uint64(rec.TS.UnixNano())
	b := binary.LittleEndian.AppendUint32(w.buf[:0], blockEnhancedPacket)
	b = binary.LittleEndian.AppendUint32(b, total)
	b = binary.LittleEndian.AppendUint32(b, id)
	b = binary.LittleEndian.AppendUint32(b, uint32(ts>>32))
	b = binary.LittleEndian.AppendUint32(b, uint32(ts))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(rec.Data)))
	b = binary.LittleEndian.AppendUint32(b, uint32(rec.Length))
	w.buf = b
	if _, err := w.w.Write(b); err != nil {
		return err
	}
	if _, err := w.w.Write(rec.Data); err != nil {
		return err
	}
	b = append(w.buf[:0], 0, 0, 0, 0)[:pad]
	b = binary.LittleEndian.AppendUint32(b, total)
	if _, err := w.w.Write(b); err != nil {
		return err
	}
	w.packets++
	return nil
}

// Packets returns how many packets were written.
func (w *NgWriter) Packets() int { return w.packets }

// Flush writes what is buffered to the underlying writer.
func (w *NgWriter) Flush() error { return w.w.Flush() }
