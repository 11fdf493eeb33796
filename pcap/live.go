package pcap

import (
	"context"
	"errors"
	"fmt"
	"github.com/wscap/wscap/pcap/filter"
	"io"
	"net"
	"strings"
	"time"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// Live capture errors. OpenLive's errors wrap one of them where it applies.
var (
	// ErrPermission: opening a packet socket needs root or CAP_NET_RAW.
	ErrPermission = errors.New("live capture needs root or the CAP_NET_RAW capability")
	// ErrNoInterface: the interface does not exist (or no longer does).
	ErrNoInterface = errors.New("no such interface")
	// ErrInterfaceDown: the interface is down, or went down during capture.
	ErrInterfaceDown = errors.New("interface is down")
	// ErrLiveUnsupported: this build cannot capture on this system.
	ErrLiveUnsupported = errors.New("live capture is only implemented for Linux (AF_PACKET)")
	// ErrFanoutUnsupported: LiveOptions.Fanout above 1 where there is no
	// AF_PACKET.
	ErrFanoutUnsupported = errors.New("fanout needs AF_PACKET on Linux")
)

// AnyInterface captures on every interface, like tcpdump -i any.
const AnyInterface = "any"

// DefaultRingSize is the default size of the kernel's capture ring.
const DefaultRingSize = 32 << 20

// MaxFanout is the largest LiveOptions.Fanout.
const MaxFanout = 64

// DefaultPollTimeout is how long Next waits on an empty ring before it
// looks at its stop conditions again.
const DefaultPollTimeout = 100 * time.Millisecond

// LiveOptions configure OpenLive. The zero value captures whole packets
// (DefaultSnaplen) with a DefaultRingSize ring, no filter, until ctx ends.
type LiveOptions struct {
	// Snaplen is how many bytes of each packet are kept; 0 means
	// DefaultSnaplen.
	Snaplen int
	// Promiscuous also captures frames not addressed to the interface.
	Promiscuous bool
	// RingSize is the size of the kernel's ring buffer in bytes; 0 means
	// DefaultRingSize. A bigger ring absorbs longer bursts.
	RingSize int
	// Filter is a capture filter applied in the kernel: the subset of
	// tcpdump's language described at filter.Compile, or with the libpcap
	// build tag any tcpdump expression.
	Filter string
	// Count stops the capture after this many packets; 0 means no limit.
	Count uint64
	// Duration stops the capture when it has run this long (packet time:
	// a packet stamped later is not returned); 0 means no limit.
	Duration time.Duration
	// PollTimeout is how long Next waits for the ring before it checks its
	// stop conditions again; 0 means DefaultPollTimeout.
	PollTimeout time.Duration
	// Idle, when not nil, is called by Next (on its goroutine) each time the
	// ring stayed empty for PollTimeout: a pipeline that batches flushes its
	// partial batch there.
	Idle func()
	// Fanout, above 1, opens that many sockets (at most MaxFanout) with
	// these options, a ring of RingSize each, joined in one PACKET_FANOUT
	// group: the kernel hashes every packet by its flow (both directions
	// alike; IPv4 fragments reassembled first, PACKET_FANOUT_FLAG_DEFRAG)
	// to one socket, a goroutine per socket copies its packets out of the
	// ring, and Next returns them merged by timestamp (see Live). 0 or 1:
	// one socket, read by Next itself. Linux only (ErrFanoutUnsupported).
	Fanout int
}

// Live is a Source reading packets from a live interface. Its records are
// borrowed from the kernel's ring: valid only until the next call to Next.
// Next returns io.EOF when the capture stops: ctx ended, Count packets
// were returned, or Duration passed.
//
// When ctx ends, Next still returns the packets the kernel stamped before
// that moment (those already in the ring) and then io.EOF.
//
// With LiveOptions.Fanout above 1, records are borrowed from the buffer
// their socket's reader copied them to, still valid only until the next
// call. The packets of one flow come from one socket, in its order; Next
// merges the sockets by timestamp, holding a packet back while another
// socket has nothing to compare it with, until it is fanoutWindow (50 ms)
// old: a socket's ring hands its packets over within 10 ms of their
// stamp, so the merged stream is in time order unless a reader fell that
// far behind (then only the totals' timestamps_backwards counts it: no
// flow's order changes).
type Live struct {
	iface    string
	linkType layers.LinkType
	ctx      context.Context
	opts     LiveOptions
	h        *liveHandle

	start    time.Time
	deadline time.Time // zero: none
	stopAt   time.Time // set once ctx ended: packets stamped later are not returned
	stopping bool
	done     bool
	err      error // sticky error from the ring

	captured uint64
	// Packets that arrived between binding the socket and attaching the
	// filter went through no filter: until earlyUntil, Next runs the
	// filter in user space (early) and skips what it rejects.
	early      *bpf.VM
	earlyUntil time.Time
	earlyIPv   bool // also skip non-IP packets (a raw IP socket)
	// The kernel counts the packets that reach the ring from countedFrom
	// (ns since the epoch; 0 once a packet stamped later was read): Next
	// counts the earlier ones it keeps, and uncounts the later ones it
	// skips, in adjust.
	countedFrom int64
	adjust      int64

	statsDone               bool
	received, kernelDropped uint64
	statsErr                error
}

// OpenLive opens a live capture on the interface iface ("any" for all of
// them). Capturing needs root or CAP_NET_RAW; without it the error wraps
// ErrPermission. Capture stops when ctx ends (see Live).
func OpenLive(ctx context.Context, iface string, opts LiveOptions) (*Live, error) {
	if opts.Fanout < 0 || opts.Fanout > MaxFanout {
		return nil, fmt.Errorf("%s: fanout of %d sockets: want 1 to %d", iface, opts.Fanout, MaxFanout)
	}
	if opts.Snaplen <= 0 {
		opts.Snaplen = DefaultSnaplen
	}
	if opts.RingSize <= 0 {
		opts.RingSize = DefaultRingSize
	}
	if opts.PollTimeout <= 0 {
		opts.PollTimeout = DefaultPollTimeout
	}
	l := &Live{iface: iface, ctx: ctx, opts: opts}
	if err := l.open(); err != nil {
		return nil, err
	}
	l.start = time.Now()
	if opts.Duration > 0 {
		l.deadline = l.start.Add(opts.Duration)
	}
	return l, nil
}

// Name returns the interface's name.
func (l *Live) Name() string { return l.iface }

// LinkType returns the link type of the records: Ethernet on Ethernet-like
// interfaces (loopback included), raw IP on "any" and on interfaces
// without link-layer header.
func (l *Live) LinkType() layers.LinkType { return l.linkType }

// Snaplen returns the snapshot length in force.
func (l *Live) Snaplen() int { return l.opts.Snaplen }

// SetIdle sets the function Next calls (on its goroutine) each time the
// ring stayed empty for the poll timeout, replacing LiveOptions.Idle. A
// pipeline that batches records registers its flush here, so that output
// is not held back while the link is quiet.
func (l *Live) SetIdle(f func()) { l.opts.Idle = f }

// IdleSetter is implemented by the sources that can report idleness (Live,
// and PcapNGTee over one).
type IdleSetter interface {
	SetIdle(f func())
}

// Captured returns how many packets Next has returned.
func (l *Live) Captured() uint64 { return l.captured }

// Next returns the next packet; its Data is valid until the next call.
func (l *Live) Next() (Record, error) {
	for {
		if l.err != nil {
			return Record{}, l.err
		}
		if l.done {
			return Record{}, io.EOF
		}
		if l.opts.Count > 0 && l.captured >= l.opts.Count {
			return l.finish()
		}
		if !l.stopping {
			select {
			case <-l.ctx.Done():
				l.stopping, l.stopAt = true, time.Now()
			default:
			}
		}
		data, ci, err := l.h.read()
		if err == errPollTimeout {
			if l.stopping || !l.deadline.IsZero() && !time.Now().Before(l.deadline) {
				return l.finish()
			}
			if l.opts.Idle != nil {
				l.opts.Idle()
			}
			continue
		}
		if err != nil {
			l.err = l.explain(err)
			l.snapshot()
			return Record{}, l.err
		}
		ts := ci.Timestamp
		if l.stopping && ts.After(l.stopAt) || !l.deadline.IsZero() && !ts.Before(l.deadline) {
			return l.finish()
		}
		uncounted := beforeCounting(&l.countedFrom, ts.UnixNano())
		if l.early != nil && !l.keepEarly(data, ts) {
			if !uncounted {
				l.adjust--
			}
			continue
		}
		if uncounted {
			l.adjust++
		}
		l.captured++
		return Record{Data: data, TS: ts, Length: ci.Length, LinkType: l.linkType}, nil
	}
}

// keepEarly runs the filter over a packet that may have reached the ring
// before the kernel had the filter.
func (l *Live) keepEarly(data []byte, ts time.Time) bool {
	if ts.After(l.earlyUntil) {
		l.early = nil
		return true
	}
	return runEarly(l.early, l.earlyIPv, data)
}

// runEarly runs the user-space copy of the filter over a packet that
// reached a ring before the kernel had the filter; ipv also rejects what
// is not IPv4 or IPv6 (the kernel guard of a raw IP socket).
func runEarly(vm *bpf.VM, ipv bool, data []byte) bool {
	if ipv && (len(data) == 0 || data[0]>>4 != 4 && data[0]>>4 != 6) {
		return false
	}
	n, err := vm.Run(data)
	return err == nil && n > 0
}

func (l *Live) finish() (Record, error) {
	l.done = true
	l.snapshot()
	return Record{}, io.EOF
}

// snapshot keeps the ring's counters as they are when capture stops.
func (l *Live) snapshot() {
	if l.statsDone || l.h == nil {
		return
	}
	l.statsDone = true
	l.received, l.kernelDropped, l.statsErr = l.h.stats()
	l.received = adjusted(l.received, l.adjust)
}

// beforeCounting reports whether a packet stamped ts reached the ring
// before the kernel counted packets (from, ns since the epoch); from
// becomes 0 at the first packet stamped later, and then nothing is.
func beforeCounting(from *int64, ts int64) bool {
	if *from == 0 {
		return false
	}
	if ts < *from {
		return true
	}
	*from = 0
	return false
}

// adjusted returns the kernel's count r corrected by what the reader
// counted itself (Live.adjust).
func adjusted(r uint64, adjust int64) uint64 {
	if adjust < 0 {
		return r - min(r, uint64(-adjust))
	}
	return r + uint64(adjust)
}

// Stats returns the kernel's counters for the capture: received is the
// number of packets that passed the filter (including those dropped),
// kernelDropped those the kernel dropped because the ring was full; with a
// fanout, the sums over its sockets. Once
// the capture stopped (Next returned io.EOF or an error, or Close was
// called), they are the counters of that moment.
func (l *Live) Stats() (received, kernelDropped uint64, err error) {
	if !l.statsDone {
		if l.h == nil {
			return 0, 0, errors.New("capture is closed")
		}
		r, d, err := l.h.stats()
		return adjusted(r, l.adjust), d, err
	}
	return l.received, l.kernelDropped, l.statsErr
}

// Close stops the capture and releases the socket and its ring (with a
// fanout: stops the readers, then releases every socket).
func (l *Live) Close() error {
	if l.h == nil {
		return nil
	}
	l.snapshot()
	err := l.h.close()
	l.h = nil
	return err
}

// explain turns an error of the ring into one that says what happened to
// the interface, where it can tell.
func (l *Live) explain(err error) error {
	if l.iface != AnyInterface {
		ifi, ierr := net.InterfaceByName(l.iface)
		switch {
		case ierr != nil:
			return fmt.Errorf("%s: interface disappeared during capture: %w", l.iface, ErrNoInterface)
		case ifi.Flags&net.FlagUp == 0:
			return fmt.Errorf("%s: interface went down during capture: %w", l.iface, ErrInterfaceDown)
		}
	}
	return fmt.Errorf("%s: capture failed: %w", l.iface, err)
}

// errPollTimeout is returned by liveHandle.read when no packet came within
// the poll timeout.
var errPollTimeout = errors.New("poll timeout")

// DefaultSnaplen is the snapshot length used when none is given: enough for
// the largest TCP segment offloading produces, as tcpdump uses.
const DefaultSnaplen = 262144

// ErrFilter is wrapped by every error about a capture filter: the
// expression's (filter.ErrExpr, the same error) or libpcap's.
var ErrFilter = filter.ErrExpr

// liveFilter compiles capture filters for live capture. With the libpcap
// build tag, it also has a libpcap method (live_libpcap.go) and any tcpdump
// expression compiles.
type liveFilter struct{}

type libpcapCompiler interface {
	libpcap(expr string, lt layers.LinkType, snaplen int) ([]bpf.Instruction, error)
}

func compileLiveFilter(expr string, lt layers.LinkType, snaplen int) ([]bpf.Instruction, error) {
	if c, ok := any(liveFilter{}).(libpcapCompiler); ok && strings.TrimSpace(expr) != "" {
		return c.libpcap(expr, lt, snaplen)
	}
	return filter.Compile(expr, lt, snaplen)
}

// Interface describes a network interface for listing (wscap live -D).
type Interface struct {
	Name  string
	Index int
	Flags net.Flags
	Addrs []string
	// Description is set for the pseudo-interface "any".
	Description string
}

// Interfaces lists the interfaces a live capture can open, "any" last.
func Interfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []Interface
	for _, ifi := range ifs {
		it := Interface{Name: ifi.Name, Index: ifi.Index, Flags: ifi.Flags}
		if addrs, err := ifi.Addrs(); err == nil {
			for _, a := range addrs {
				it.Addrs = append(it.Addrs, a.String())
			}
		}
		out = append(out, it)
	}
	out = append(out, Interface{Name: AnyInterface, Description: "all interfaces (packets as raw IP)"})
	return out, nil
}

// PcapNGTee is a Source that also writes every record it returns to a
// pcapng file, as tshark -w does.
type PcapNGTee struct {
	src Source
	w   *NgWriter
	err error
}

// NewPcapNGTee writes the packets of src, of link type lt, to w as pcapng
// while returning them. The interface block, written at once, names iface
// and records snaplen.
func NewPcapNGTee(src Source, w io.Writer, iface string, lt layers.LinkType, snaplen int) (*PcapNGTee, error) {
	ngw, err := NewNgWriter(w, NgWriterOptions{Application: "wscap", Interface: iface, Snaplen: snaplen})
	if err != nil {
		return nil, err
	}
	if err := ngw.AddInterface(lt); err != nil {
		return nil, err
	}
	return &PcapNGTee{src: src, w: ngw}, nil
}

// Next returns the next record of the source after writing it.
func (t *PcapNGTee) Next() (Record, error) {
	rec, err := t.src.Next()
	if err != nil {
		if ferr := t.Flush(); ferr != nil && errors.Is(err, io.EOF) {
			return rec, ferr
		}
		return rec, err
	}
	if t.err == nil {
		if err := t.w.WritePacket(rec); err != nil {
			t.err = fmt.Errorf("writing the capture file: %w", err)
			return Record{}, t.err
		}
	}
	return rec, nil
}

// SetIdle makes an idle underlying source (an IdleSetter) flush the file,
// then call f (when not nil).
func (t *PcapNGTee) SetIdle(f func()) {
	if s, ok := t.src.(IdleSetter); ok {
		s.SetIdle(func() {
			t.Flush()
			if f != nil {
				f()
			}
		})
	}
}

// Flush writes what is buffered to the file; over a live capture it is
// called whenever the capture is idle (see SetIdle).
func (t *PcapNGTee) Flush() error {
	if t.err != nil {
		return t.err
	}
	if err := t.w.Flush(); err != nil {
		t.err = fmt.Errorf("writing the capture file: %w", err)
	}
	return t.err
}

// Close flushes the file and closes the source (not the file's writer).
func (t *PcapNGTee) Close() error {
	ferr := t.Flush()
	if err := t.src.Close(); err != nil {
		return err
	}
	return ferr
}
