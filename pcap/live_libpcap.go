//go:build libpcap

package pcap

import (
	"fmt"

	"github.com/gopacket/gopacket/layers"
	libpcap "github.com/gopacket/gopacket/pcap"
	"golang.org/x/net/bpf"
)

// libpcap compiles any tcpdump expression (pcap-filter(7)) with libpcap's
// compiler, for the socket of a live capture. Built only with -tags libpcap
// (cgo and libpcap-dev).
func (liveFilter) libpcap(expr string, lt layers.LinkType, snaplen int) ([]bpf.Instruction, error) {
	if lt == layers.LinkTypeRaw {
		lt = 12 // libpcap wants the DLT, DLT_RAW, not the pcap file's LINKTYPE_RAW (101)
	}
	ins, err := libpcap.CompileBPFFilter(lt, snaplen, expr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFilter, err)
	}
	raw := make([]bpf.RawInstruction, len(ins))
	for i, in := range ins {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	prog, _ := bpf.Disassemble(raw) // what it cannot decode stays raw, and assembles back as is
	return prog, nil
}
