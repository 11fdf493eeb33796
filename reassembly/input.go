package reassembly

import (
	"errors"
	"io"
	"slices"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/wscap/wscap/dissect"
	"github.com/wscap/wscap/pcap"
)

// Counters account for every packet read: Read equals the sum of the other
// fields once the input is flushed.
type Counters struct {
	Read        int64 `json:"read"`
	WebSocket   int64 `json:"websocket"`   // TCP packets of WebSocket connections
	OtherTCP    int64 `json:"other_tcp"`   // TCP packets of other connections
	NotTCP      int64 `json:"not_tcp"`     // well-formed packets of other protocols
	Undecodable int64 `json:"undecodable"` // malformed, or of an unsupported link type
	// Fragments counts the IP fragments that did not complete a datagram:
	// held for reassembly, or dropped (see pcap.DefragStats). The fragment
	// that completes a datagram counts as the datagram does (its TCP
	// connection, or not_tcp), so the sum stays exact.
	Fragments int64 `json:"ip_fragments"`
}

// Input reads packet sources into an Assembler.
type Input struct {
	a   *Assembler
	dec *pcap.Decoder
	seg pcap.Segment
	c   Counters
	// unsupported link types met, in order
	badLinks []layers.LinkType
	lastTick time.Time
	// Last is the position of the last packet read.
	Last dissect.Pos
}

// NewInput returns an Input feeding a.
func NewInput(a *Assembler) *Input {
	return &Input{a: a, dec: pcap.NewDecoder()}
}

// ReadAll reads src to its end as input file number file. It stops early
// when the Dissector's sink fails. A read error (a truncated file) is
// returned after everything before it was processed.
func (in *Input) ReadAll(src pcap.Source, file int) error {
	var n uint64
	for {
		rec, err := src.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		n++
		in.Last = dissect.Pos{File: file, Pkt: n, TS: rec.TS}
		in.Packet(in.Last, rec)
		if err := in.a.d.Err(); err != nil {
			return err
		}
	}
}

// Packet decodes and processes one packet.
func (in *Input) Packet(p dissect.Pos, rec pcap.Record) {
	in.c.Read++
	switch in.dec.DecodeRecord(rec, &in.seg) {
	case pcap.ClassTCP:
		if p.TS.Sub(in.lastTick) > in.a.ScanInterval() {
			in.a.Tick(p)
			in.lastTick = p.TS
		}
		in.a.Packet(p, &in.seg)
	case pcap.ClassNotTCP:
		in.c.NotTCP++
	case pcap.ClassFragment:
		in.c.Fragments++
	default:
		in.c.Undecodable++
		if !pcap.SupportedLinkType(rec.LinkType) && !slices.Contains(in.badLinks, rec.LinkType) {
			in.badLinks = append(in.badLinks, rec.LinkType)
		}
	}
}

// UnsupportedLinkTypes returns the link types met so far that cannot be
// decoded, and forgets them.
func (in *Input) UnsupportedLinkTypes() []layers.LinkType {
	l := in.badLinks
	in.badLinks = nil
	return l
}

// Flush ends every connection (the input is over) and returns the final
// counters.
func (in *Input) Flush() Counters {
	in.a.Flush(in.Last)
	st := in.a.Stats()
	c := in.c
	c.WebSocket = st.WSPackets
	c.OtherTCP = st.OtherTCPPackets
	return c
}
