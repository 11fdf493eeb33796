package pcap

import (
	"encoding/binary"
	"fmt"
	"io"
)

// maxBlock is the longest pcapng block read: a packet block holds at most
// maxRecord bytes of packet, plus options.
const maxBlock = 1 << 20

// ngGuard passes a pcapng stream through, following its block structure,
// and stops with an error at a block that announces more than maxBlock
// bytes, before the reader behind it allocates for it (a small gzip file
// can hold a block of gigabytes).
type ngGuard struct {
	r         io.Reader
	bigEndian bool
	hdr       [12]byte // the current block's header, as it arrives
	hn        int      // header bytes seen
	left      uint64   // bytes of the current block after its header
	blocks    int
	ifaces    int // Interface Description Blocks in this section
	err       error
}

// maxInterfaces caps the interfaces of a pcapng section: gopacket's
// reader keeps every one, with its options.
const maxInterfaces = 4096

func (g *ngGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	for i := 0; i < n; {
		if g.left > 0 {
			k := uint64(n - i)
			if k > g.left {
				k = g.left
			}
			g.left -= k
			i += int(k)
			continue
		}
		// Collect the header: type and length (and, for a section header
		// block, the byte-order magic that says how to read the length).
		need := 8
		if g.hn >= 4 && binary.LittleEndian.Uint32(g.hdr[:4]) == 0x0a0d0d0a {
			need = 12
		}
		k := copy(g.hdr[g.hn:need], p[i:n])
		g.hn += k
		i += k
		if g.hn < need {
			continue
		}
		if need == 8 && binary.LittleEndian.Uint32(g.hdr[:4]) == 0x0a0d0d0a {
			continue // a section header: read the magic too
		}
		if need == 12 {
			g.bigEndian = binary.BigEndian.Uint32(g.hdr[8:12]) == 0x1a2b3c4d
		}
		length := binary.LittleEndian.Uint32(g.hdr[4:8])
		if g.bigEndian {
			length = binary.BigEndian.Uint32(g.hdr[4:8])
		}
		if length > maxBlock {
			g.err = fmt.Errorf("pcapng block %d announces %d bytes, more than %d: the file is corrupt", g.blocks+1, length, maxBlock)
			// Hand over what precedes the block; the next Read fails.
			return i - g.hn, nil
		}
		typ := binary.LittleEndian.Uint32(g.hdr[:4])
		if g.bigEndian {
			typ = binary.BigEndian.Uint32(g.hdr[:4])
		}
		switch typ {
		case 0x0a0d0d0a:
			g.ifaces = 0 // interfaces are numbered per section
		case 1: // Interface Description Block
			if g.ifaces++; g.ifaces > maxInterfaces {
				g.err = fmt.Errorf("pcapng block %d describes interface %d of its section, more than the %d wscap reads (a real capture has a handful): the file is corrupt or hostile", g.blocks+1, g.ifaces, maxInterfaces)
				return i - g.hn, nil
			}
		}
		if uint32(g.hn) > length { // a length too short to hold its own header: pcapgo reports it
			g.left = 0
		} else {
			g.left = uint64(length) - uint64(g.hn)
		}
		g.hn = 0
		g.blocks++
	}
	return n, err
}
