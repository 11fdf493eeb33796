// Package pcap opens packet sources for wscap: capture files in pcap or
// pcapng format (optionally gzip-compressed), standard input, and live
// interfaces. It recognises formats by their magic numbers, never by the
// file name, and decodes each packet down to TCP.
package pcap

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Format is the container format of a capture.
type Format uint8

const (
	FormatPcap Format = iota + 1
	FormatPcapNG
)

func (f Format) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapNG:
		return "pcapng"
	}
	return "unknown"
}

// maxRecord is the longest packet record read: 256 KiB, tcpdump's largest
// snapshot length. (An IP packet is at most 64 KiB; segmentation offload
// captures stay below this.)
const maxRecord = 262144

// ErrNotCapture means the input does not start with a pcap, pcapng or gzip
// magic number.
var ErrNotCapture = errors.New("not a pcap or pcapng capture")

// Record is one packet as read from a source. Data is borrowed: it is valid
// only until the next call to Next.
type Record struct {
	Data     []byte
	TS       time.Time
	Length   int // the packet's length on the wire (Data may be shorter: snaplen)
	LinkType layers.LinkType
}

// A Source yields packets in capture order.
type Source interface {
	// Next returns the next packet. At the end it returns io.EOF; a file cut
	// off in the middle of a packet returns an error wrapping
	// io.ErrUnexpectedEOF.
	Next() (Record, error)
	// Close releases the source.
	Close() error
}

// File reads a capture file or a stream (standard input) in pcap or pcapng
// format, gzip-compressed or not.
type File struct {
	name   string
	format Format
	gz     bool
	count  *countingReader
	closer io.Closer
	size   int64

	pcap   *pcapgo.Reader
	ng     *pcapgo.NgReader
	ngLink []layers.LinkType
	n      int64 // records read
	empty  int64 // records in a row that hold no packet
	guard  *ngGuard
}

// Open opens the capture file name; "-" reads standard input.
func Open(name string) (*File, error) {
	if name == "-" {
		return NewFile("standard input", os.Stdin, nil)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	src, err := NewFile(name, f, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		src.size = st.Size()
	}
	return src, nil
}

// NewFile reads a capture from r. name is used in error messages; closer,
// if not nil, is closed by Close.
func NewFile(name string, r io.Reader, closer io.Closer) (*File, error) {
	f := &File{name: name, closer: closer, count: &countingReader{r: r}}
	br := bufio.NewReaderSize(f.count, 256<<10)
	magic, err := br.Peek(4)
	if err != nil {
		if len(magic) == 0 {
			return nil, fmt.Errorf("%s: empty input, not a capture", name)
		}
		return nil, fmt.Errorf("%s: %w (only %d bytes)", name, ErrNotCapture, len(magic))
	}
	var in io.Reader = br
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: bad gzip header: %w", name, err)
		}
		f.gz = true
		br = bufio.NewReaderSize(zr, 256<<10)
		in = br
		if magic, err = br.Peek(4); err != nil {
			return nil, fmt.Errorf("%s: gzip content: %w", name, ErrNotCapture)
		}
	}
	switch binary.BigEndian.Uint32(magic) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		f.format = FormatPcap
		f.pcap, err = pcapgo.NewReader(in)
		if err != nil {
			return nil, fmt.Errorf("%s: bad pcap header: %w", name, err)
		}
		// Records longer than the declared snaplen exist in the wild (see
		// pcapgo's SetSnaplen); read them up to 256 KiB, as tcpdump does.
		// A header may also claim a huge snaplen (4 GiB): a record longer
		// than 256 KiB is then an error, never an allocation of its size.
		f.pcap.SetSnaplen(maxRecord)
	case 0x0a0d0d0a:
		f.format = FormatPcapNG
		f.guard = &ngGuard{r: in}
		f.ng, err = pcapgo.NewNgReader(f.guard, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, fmt.Errorf("%s: bad pcapng header: %w", name, err)
		}
	default:
		return nil, fmt.Errorf("%s: %w (magic %02x %02x %02x %02x)", name, ErrNotCapture, magic[0], magic[1], magic[2], magic[3])
	}
	return f, nil
}

// Name returns the name given to Open or NewFile.
func (f *File) Name() string { return f.name }

// Format returns the container format.
func (f *File) Format() Format { return f.format }

// Gzip reports whether the capture was gzip-compressed.
func (f *File) Gzip() bool { return f.gz }

// BytesRead returns how many bytes of the underlying file were read so far
// (compressed bytes for a gzip file), for progress reporting. It may be
// called from another goroutine.
func (f *File) BytesRead() int64 { return f.count.n.Load() }

// Size returns the file's size, or 0 when unknown (a pipe).
func (f *File) Size() int64 { return f.size }

// Next returns the next packet. Its Data is valid until the next call.
func (f *File) Next() (Record, error) {
	var (
		data []byte
		ci   gopacket.CaptureInfo
		err  error
		lt   layers.LinkType
	)
	if f.pcap != nil {
		data, ci, err = f.pcap.ZeroCopyReadPacketData()
		lt = f.pcap.LinkType()
	} else {
		data, ci, err = f.ng.ZeroCopyReadPacketData()
		if err == nil {
			lt, err = f.ngLinkType(ci.InterfaceIndex)
		}
	}
	if err != nil {
		return Record{}, f.wrap(err)
	}
	f.n++
	// A record that captured nothing of a packet of no length is not a
	// packet: a run of them is zeros (or garbage) where packets should be.
	if len(data) == 0 && ci.Length == 0 {
		if f.empty++; f.empty >= maxEmptyRecords {
			return Record{}, fmt.Errorf("%s: %d records in a row from record %d on hold no packet (zero captured and original length): the rest of the file is not a capture", f.name, f.empty, f.n-f.empty+1)
		}
	} else {
		f.empty = 0
	}
	return Record{Data: data, TS: ci.Timestamp, Length: ci.Length, LinkType: lt}, nil
}

// maxEmptyRecords is how many records holding no packet in a row end the
// reading of a file.
const maxEmptyRecords = 1000

func (f *File) ngLinkType(i int) (layers.LinkType, error) {
	if i >= 0 && i < len(f.ngLink) {
		return f.ngLink[i], nil
	}
	for len(f.ngLink) < f.ng.NInterfaces() {
		iface, err := f.ng.Interface(len(f.ngLink))
		if err != nil {
			return 0, err
		}
		f.ngLink = append(f.ngLink, iface.LinkType)
	}
	if i < 0 || i >= len(f.ngLink) {
		return 0, fmt.Errorf("packet names interface %d, which the file does not describe", i)
	}
	return f.ngLink[i], nil
}

func (f *File) wrap(err error) error {
	if f.guard != nil && f.guard.err != nil {
		return fmt.Errorf("%s: %w", f.name, f.guard.err)
	}
	switch {
	case err == io.EOF:
		return io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: file cut off in the middle of a packet: %w", f.name, io.ErrUnexpectedEOF)
	}
	if f.pcap != nil {
		// pcapgo's classic reader fails only at the end of its input or
		// for a record longer than its snaplen, which NewFile set to
		// maxRecord: the error is known by where it comes from, not by
		// its text.
		return fmt.Errorf("%s: packet %d: record longer than %d bytes (%w): the file is corrupt", f.name, f.n+1, maxRecord, err)
	}
	return fmt.Errorf("%s: packet %d: %w", f.name, f.n+1, err)
}

// Close closes the underlying file.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
