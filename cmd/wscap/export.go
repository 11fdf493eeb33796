package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"sort"

	"github.com/gopacket/gopacket/layers"

	"github.com/wscap/wscap/dissect"
	"github.com/wscap/wscap/pcap"
)

// exportConn is a connection selected for --write-pcap.
type exportConn struct {
	client, server netip.AddrPort
	first          dissect.Pos
}

type flowID struct{ a, b netip.AddrPort }

// maxHeldBytes bounds the IP fragments --write-pcap holds while their
// datagrams are incomplete.
const maxHeldBytes = 64 << 20

func flowOf(a, b netip.AddrPort) flowID {
	if b.Addr().Less(a.Addr()) || (a.Addr() == b.Addr() && b.Port() < a.Port()) {
		a, b = b, a
	}
	return flowID{a, b}
}

// writePcap reads the inputs again and writes to name, as pcapng, every
// packet of the selected connections (like Wireshark's Export Specified
// Packets): from each connection's first packet until the next connection
// on the same addresses and ports starts. The IP fragments of a datagram
// are held until the one that completes it shows whose it is; then all are
// written, in capture order, before it.
// secrets, when not empty, are the TLS key log lines the decoding used:
// they go into a Decryption Secrets Block after the section header, so
// that the export opens decrypted in Wireshark and in wscap.
func writePcap(name string, inputs []input, sel map[int]exportConn, secrets []byte) (int, error) {
	starts := map[flowID][]dissect.Pos{} // every selected connection's start, per flow, in order
	for _, c := range sel {
		f := flowOf(c.client, c.server)
		starts[f] = append(starts[f], c.first)
	}
	for _, l := range starts {
		sort.Slice(l, func(i, j int) bool { return l[i].Before(l[j]) })
	}
	out, err := os.Create(name)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	var sec [][]byte
	if len(secrets) > 0 {
		sec = [][]byte{secrets}
	}
	w, err := pcap.NewNgWriter(out, pcap.NgWriterOptions{Application: "wscap", Secrets: sec})
	if err != nil {
		return 0, err
	}
	dec := pcap.NewDecoder()
	var seg pcap.Segment
	written := 0
	write := func(rec pcap.Record) error {
		if err := w.WritePacket(rec); err != nil {
			return err
		}
		written++
		return nil
	}
	// held keeps copies of the fragments of incomplete datagrams, at most
	// maxHeldBytes (the oldest datagram's go first).
	held := map[pcap.DatagramID][]pcap.Record{}
	var heldOrder []pcap.DatagramID
	heldBytes := 0
	// A selected flow stays selected until a SYN starts a new connection on
	// it that was not selected.
	open := map[flowID]bool{}
	for i, inp := range inputs {
		src, err := inp.open()
		if err != nil {
			return written, err
		}
		var n uint64
		for {
			rec, err := src.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				src.Close()
				return written, err
			}
			n++
			p := dissect.Pos{File: i, Pkt: n}
			data := append([]byte(nil), rec.Data...) // Decode may not change it, but keep the original bytes
			class := dec.Decode(rec.LinkType, data, &seg)
			dg, frag := dec.Datagram()
			if class == pcap.ClassFragment && frag {
				rec.Data = data // a copy: the source reuses its buffer
				if _, ok := held[dg]; !ok {
					heldOrder = append(heldOrder, dg)
				}
				held[dg] = append(held[dg], rec)
				heldBytes += len(data)
				for heldBytes > maxHeldBytes && len(heldOrder) > 0 {
					for _, r := range held[heldOrder[0]] {
						heldBytes -= len(r.Data)
					}
					delete(held, heldOrder[0])
					heldOrder = heldOrder[1:]
				}
				continue
			}
			var frags []pcap.Record
			if frag {
				frags = held[dg]
				for _, r := range frags {
					heldBytes -= len(r.Data)
				}
				delete(held, dg)
				heldOrder = slices.DeleteFunc(heldOrder, func(x pcap.DatagramID) bool { return x == dg })
			}
			if class != pcap.ClassTCP {
				continue
			}
			f := flowOf(seg.Src, seg.Dst)
			l := starts[f]
			switch {
			case len(l) > 0 && l[0].File == p.File && l[0].Pkt == p.Pkt:
				open[f] = true
				starts[f] = l[1:]
			case seg.Flags&pcap.FlagSYN != 0 && seg.Flags&pcap.FlagACK == 0 && open[f]:
				open[f] = false // a new connection on the flow, not selected
			}
			if !open[f] {
				continue
			}
			for _, r := range append(frags, rec) {
				if err := write(r); err != nil {
					return written, err
				}
			}
		}
		src.Close()
	}
	if written == 0 {
		if err := w.AddInterface(layers.LinkTypeEthernet); err != nil {
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		return written, fmt.Errorf("%s: %w", name, err)
	}
	return written, out.Close()
}
