//go:build linux

package pcap

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// Linux ARPHRD_* device types (if_arp.h) that carry Ethernet headers as
// packet sockets see them.
const (
	arphrdEther    = 1
	arphrdLoopback = 772
)

// packetOutgoing is PACKET_OUTGOING, the skb->pkt_type of a packet the host sends.
const packetOutgoing = 4

// The kernel ring: TPACKET_V3 blocks of liveBlockSize. A block is handed to
// wscap when full or after liveBlockTimeout, which bounds the latency of
// streamed output on a quiet link.
const (
	liveBlockSize    = 1 << 20
	liveFrameSize    = 1 << 11
	liveBlockTimeout = 10 * time.Millisecond
)

// liveHandle is the socket of a capture, or with a fanout (fan set, tp
// nil) its sockets.
type liveHandle struct {
	tp  *afpacket.TPacket
	fan *fanout
}

// open opens the socket: AF_PACKET, TPACKET_V3 ring, bound to the
// interface, with the filter attached. SOCK_RAW on Ethernet-like
// interfaces (records of link type Ethernet, loopback included), SOCK_DGRAM
// on "any" and on interfaces without Ethernet header (records of link type
// raw IP; non-IP packets are filtered out in the kernel, since the protocol
// would be lost). With LiveOptions.Fanout above 1, that many such sockets
// in one fanout group (openFanout).
func (l *Live) open() error {
	var (
		bind     string // "" binds to all interfaces
		loIndex  = -1   // index of the loopback interface, whose outgoing packets are seen twice
		onlyLo   bool
		sockType = afpacket.SocketRaw
	)
	l.linkType = layers.LinkTypeEthernet
	if l.iface == AnyInterface {
		l.linkType, sockType = layers.LinkTypeRaw, afpacket.SocketDgram
		if ifs, err := net.Interfaces(); err == nil {
			for _, ifi := range ifs {
				if ifi.Flags&net.FlagLoopback != 0 && arphrd(ifi) == arphrdLoopback {
					loIndex = ifi.Index
					break
				}
			}
		}
	} else {
		ifi, err := net.InterfaceByName(l.iface)
		if err != nil {
			return fmt.Errorf("%s: %w (see 'wscap live -D')", l.iface, ErrNoInterface)
		}
		if ifi.Flags&net.FlagUp == 0 {
			return fmt.Errorf("%s: %w", l.iface, ErrInterfaceDown)
		}
		bind = ifi.Name
		switch arphrd(*ifi) {
		case arphrdLoopback:
			onlyLo, loIndex = true, ifi.Index
		case arphrdEther:
		default:
			l.linkType, sockType = layers.LinkTypeRaw, afpacket.SocketDgram
		}
	}
	prog, err := compileLiveFilter(l.opts.Filter, l.linkType, l.opts.Snaplen)
	if err != nil {
		return err
	}
	kernelProg := append(socketGuard(sockType == afpacket.SocketDgram, loIndex, onlyLo), prog...)
	raw, err := bpf.Assemble(kernelProg)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFilter, err)
	}

	blockSize := liveBlockSize
	for blockSize < l.opts.Snaplen+4096 {
		blockSize *= 2
	}
	blocks := max(l.opts.RingSize/blockSize, 2)
	// socket returns a socket with its filter and the time from which the
	// kernel counts its packets: gopacket clears the counters once the ring
	// is set up, before the filter; they are cleared again once the filter
	// is on, so that what reached the ring before it is counted by the
	// reader instead (Live.adjust, fanSocket.adjust).
	socket := func() (*afpacket.TPacket, int64, error) {
		tp, err := afpacket.NewTPacket(
			afpacket.OptInterface(bind),
			afpacket.OptSocketType(sockType),
			afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
			afpacket.OptBlockSize(blockSize),
			afpacket.OptFrameSize(liveFrameSize),
			afpacket.OptNumBlocks(blocks),
			afpacket.OptBlockTimeout(liveBlockTimeout),
			afpacket.OptPollTimeout(l.opts.PollTimeout),
		)
		if err != nil {
			return nil, 0, l.openError(err)
		}
		if err := tp.SetBPF(raw); err != nil {
			tp.Close()
			return nil, 0, fmt.Errorf("%s: attaching the capture filter: %w", l.iface, err)
		}
		if l.opts.Promiscuous && bind != "" {
			if err := tp.SetPromiscuous(true); err != nil {
				tp.Close()
				return nil, 0, fmt.Errorf("%s: promiscuous mode: %w", l.iface, err)
			}
		}
		if err := tp.InitSocketStats(); err != nil {
			tp.Close()
			return nil, 0, fmt.Errorf("%s: reading the socket's counters: %w", l.iface, err)
		}
		return tp, time.Now().UnixNano(), nil
	}
	// Packets that reached a ring before SetBPF went through no filter.
	var early *bpf.VM
	if vm, err := bpf.NewVM(prog); err == nil && (l.opts.Filter != "" || sockType == afpacket.SocketDgram) {
		early = vm
	}
	if l.opts.Fanout > 1 {
		return l.openFanout(socket, early, sockType == afpacket.SocketDgram, loIndex, onlyLo)
	}
	tp, countedFrom, err := socket()
	if err != nil {
		return err
	}
	l.countedFrom = countedFrom
	if early != nil {
		l.early, l.earlyUntil = early, time.Now().Add(time.Millisecond)
		l.earlyIPv = sockType == afpacket.SocketDgram
	}
	l.h = &liveHandle{tp: tp}
	return nil
}

func (l *Live) openError(err error) error {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno) && (errno == syscall.EPERM || errno == syscall.EACCES):
		return fmt.Errorf("%s: %w", l.iface, ErrPermission)
	case errors.As(err, &errno) && errno == syscall.ENETDOWN:
		return fmt.Errorf("%s: %w", l.iface, ErrInterfaceDown)
	case errors.As(err, &errno) && errno == syscall.ENODEV:
		return fmt.Errorf("%s: %w", l.iface, ErrNoInterface)
	case errors.As(err, &errno) && errno == syscall.EAFNOSUPPORT:
		return fmt.Errorf("%s: the kernel has no AF_PACKET support: %w", l.iface, ErrLiveUnsupported)
	}
	return fmt.Errorf("%s: opening the capture socket: %w", l.iface, err)
}

// socketGuard returns the kernel-only head of the socket filter, which uses
// Linux's ancillary loads (not run by x/net/bpf's VM): it drops the outgoing
// copy of loopback packets (a packet socket sees every loopback packet
// twice, as sent and as received) and, on a SOCK_DGRAM socket, every packet
// that is not IPv4 or IPv6. What follows it sees the packet unchanged.
func socketGuard(dgram bool, loIndex int, onlyLo bool) []bpf.Instruction {
	var g []bpf.Instruction
	switch {
	case onlyLo:
		g = append(g,
			bpf.LoadExtension{Num: bpf.ExtType},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipTrue: 0, SkipFalse: 1},
			bpf.RetConstant{Val: 0})
	case loIndex > 0:
		g = append(g,
			bpf.LoadExtension{Num: bpf.ExtInterfaceIndex},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(loIndex), SkipTrue: 0, SkipFalse: 3},
			bpf.LoadExtension{Num: bpf.ExtType},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipTrue: 0, SkipFalse: 1},
			bpf.RetConstant{Val: 0})
	}
	if dgram {
		g = append(g,
			bpf.LoadExtension{Num: bpf.ExtProto},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(layers.EthernetTypeIPv4), SkipTrue: 2},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(layers.EthernetTypeIPv6), SkipTrue: 1},
			bpf.RetConstant{Val: 0})
	}
	return g
}

// arphrd returns the interface's ARPHRD_* type, from sysfs; without sysfs
// it guesses from the hardware address.
func arphrd(ifi net.Interface) int {
	b, err := os.ReadFile("/sys/class/net/" + ifi.Name + "/type")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return n
		}
	}
	switch {
	case ifi.Flags&net.FlagLoopback != 0:
		return arphrdLoopback
	case len(ifi.HardwareAddr) == 6:
		return arphrdEther
	}
	return -1
}

func (h *liveHandle) read() ([]byte, gopacket.CaptureInfo, error) {
	if h.fan != nil {
		return h.fan.read()
	}
	data, ci, err := h.tp.ZeroCopyReadPacketData()
	if err == afpacket.ErrTimeout {
		return nil, ci, errPollTimeout
	}
	return data, ci, err
}

func (h *liveHandle) stats() (received, dropped uint64, err error) {
	if h.fan != nil {
		return h.fan.stats()
	}
	_, v3, err := h.tp.SocketStats()
	if err != nil {
		return 0, 0, err
	}
	return uint64(v3.Packets()), uint64(v3.Drops()), nil
}

func (h *liveHandle) close() error {
	if h.fan != nil {
		h.fan.close()
		return nil
	}
	h.tp.Close()
	return nil
}
