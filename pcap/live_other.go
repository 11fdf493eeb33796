//go:build !linux

package pcap

import (
	"fmt"

	"github.com/gopacket/gopacket"
)

// liveHandle is not implemented here: live capture uses Linux's AF_PACKET.
type liveHandle struct{}

func (l *Live) open() error {
	if l.opts.Fanout > 1 {
		return fmt.Errorf("%s: %w", l.iface, ErrFanoutUnsupported)
	}
	return fmt.Errorf("%s: %w", l.iface, ErrLiveUnsupported)
}

func (h *liveHandle) read() ([]byte, gopacket.CaptureInfo, error) {
	return nil, gopacket.CaptureInfo{}, ErrLiveUnsupported
}

func (h *liveHandle) stats() (received, dropped uint64, err error) { return 0, 0, ErrLiveUnsupported }

func (h *liveHandle) close() error { return nil }
