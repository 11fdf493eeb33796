package reassembly

import (
	"net/netip"
	"time"

	"github.com/wscap/wscap/pcap"
	"github.com/wscap/wscap/stream"
)

// A connection that has carried no byte yet (a SYN, a handshake, pure
// ACKs) is kept in a compact table, not as a conn with a Stream: a SYN
// flood or a port scan is hundreds of thousands of such connections, and a
// conn with its dissection state costs a few KiB where a half-open entry
// costs ~100 bytes. The first packet that carries a byte (or a FIN, a
// RST, an acknowledgment of bytes never seen, anything the table does not
// model) promotes the entry to a conn set up as if it had been one all
// along: its first packet, its ISNs, its packet count. The Stream never
// learns the difference. Half-open entries do not count against
// Options.MaxConns (so a flood does not evict the connections that carry
// data); they have their own cap, Options.MaxHalfOpen, beyond which the
// oldest is forgotten.

// halfOpen is a connection that has carried no byte yet.
type halfOpen struct {
	first   int64 // packet time of its first packet, Unix ns
	last    int64 // of its latest packet
	pkt     uint64
	isn     [2]uint32 // per direction, when its SYN was seen (next is isn+1)
	packets uint32
	file    int32
	gen     uint32 // matches its entry in Assembler.hoOrder
	flags   hoFlags
}

type hoFlags uint8

const (
	hoSYNClient hoFlags = 1 << iota // the client's SYN was seen: isn[ClientToServer]
	hoSYNServer
	hoClientLo  // the client is the lower endpoint of the flowKey
	hoOpened    // the first packet was a SYN or SYN-ACK
	hoContinues // stream.Conn.Continues
	hoUTC       // the first packet's timestamp is in UTC (else Local)
)

func (e *halfOpen) syn(d stream.Direction) bool { return e.flags&(hoSYNClient<<d) != 0 }

// dir is the direction of a segment whose FlowKey is fk.
func (e *halfOpen) dir(fk *FlowKey) stream.Direction {
	if fk.srcLo == (e.flags&hoClientLo != 0) {
		return stream.ClientToServer
	}
	return stream.ServerToClient
}

// hoRef is an entry of the order in which half-open entries were made.
type hoRef struct {
	h   uint64
	gen uint32
}

// carries reports whether seg does anything beyond what a half-open entry
// models: bytes, a cut, a FIN or a RST.
func carries(seg *pcap.Segment) bool {
	return len(seg.Payload) > 0 || seg.Missing > 0 || seg.Flags&(pcap.FlagFIN|pcap.FlagRST) != 0
}

// halfOpenPacket handles a packet of the half-open entry e (hash h), in
// direction d. It reports whether the packet was taken in by the entry;
// if not, the entry is gone: promoted (c is its conn) or, when a new SYN
// reuses the 4-tuple, ended (c is nil).
func (a *Assembler) halfOpenPacket(e *halfOpen, h uint64, k *flowKey, fk *FlowKey, p stream.Pos, seg *pcap.Segment) (taken bool, c *conn) {
	d := e.dir(fk)
	syn := seg.Flags&pcap.FlagSYN != 0
	if syn && seg.Flags&pcap.FlagACK == 0 && e.syn(d) && seg.Seq != e.isn[d] {
		// A new SYN with another ISN: port reuse, as for a live conn.
		a.endHalfOpen(h, e)
		return false, nil
	}
	r := d.Reverse()
	keeps := !carries(seg) &&
		(!syn || !e.syn(d) || seg.Seq == e.isn[d]) &&
		(seg.Flags&pcap.FlagACK == 0 || !e.syn(r) || !seqAfter(seg.Ack, e.isn[r]+1))
	if !keeps {
		return false, a.promote(h, e, k, fk, p, seg)
	}
	e.packets++
	e.last = p.TS.UnixNano()
	if syn && !e.syn(d) {
		e.flags |= hoSYNClient << d
		e.isn[d] = seg.Seq
	}
	a.halfOpen[h] = *e
	return true, nil
}

// newHalfOpen starts a half-open entry with seg, which carries nothing
// (see carries), the packet at p.
func (a *Assembler) newHalfOpen(h uint64, fk *FlowKey, p stream.Pos, seg *pcap.Segment, continues bool) {
	for len(a.halfOpen) >= a.opts.MaxHalfOpen && a.forgetOldest() {
	}
	a.hoGen++
	e := halfOpen{first: p.TS.UnixNano(), last: p.TS.UnixNano(), pkt: p.Pkt, packets: 1, file: int32(p.File), gen: a.hoGen}
	clientIsSrc := !(seg.Flags&pcap.FlagSYN != 0 && seg.Flags&pcap.FlagACK != 0) // a SYN-ACK comes from the server
	if clientIsSrc == fk.srcLo {
		e.flags |= hoClientLo
	}
	if seg.Flags&pcap.FlagSYN != 0 {
		e.flags |= hoOpened | hoSYNClient<<e.dir(fk)
		e.isn[e.dir(fk)] = seg.Seq
	}
	if continues {
		e.flags |= hoContinues
	}
	if p.TS.Location() != time.Local {
		e.flags |= hoUTC
	}
	a.halfOpen[h] = e
	a.hoOrder = append(a.hoOrder, hoRef{h, e.gen})
	a.compactOrder()
	a.stats.Connections++
	a.stats.HalfOpen++
}

// promote turns the half-open entry e into a conn, for seg.
func (a *Assembler) promote(h uint64, e *halfOpen, k *flowKey, fk *FlowKey, p stream.Pos, seg *pcap.Segment) *conn {
	delete(a.halfOpen, h)
	client, server := seg.Src, seg.Dst
	if e.dir(fk) == stream.ServerToClient {
		client, server = server, client
	}
	ts := time.Unix(0, e.first)
	if e.flags&hoUTC != 0 {
		ts = ts.UTC()
	}
	first := stream.Pos{File: int(e.file), Pkt: e.pkt, TS: ts}
	c := a.newConn(*k, h, p, first, client, server, e.flags&hoOpened != 0, e.flags&hoContinues != 0)
	c.packets = int64(e.packets)
	for d := range c.half {
		if e.syn(stream.Direction(d)) {
			hf := &c.half[d]
			hf.syn, hf.isn, hf.started, hf.next = true, e.isn[d], true, e.isn[d]+1
			c.synSeen = true
		}
	}
	a.stats.Promoted++
	return c
}

// endHalfOpen ends the half-open entry e (hash h): a connection that
// carried nothing, never claimed by a Stream.
func (a *Assembler) endHalfOpen(h uint64, e *halfOpen) {
	delete(a.halfOpen, h)
	a.stats.OtherPackets += int64(e.packets)
	a.stats.EmptyConns++
}

// forgetOldest ends the oldest half-open entry to make room for a new one
// (Options.MaxHalfOpen). It reports whether there was one.
func (a *Assembler) forgetOldest() bool {
	for a.hoHead < len(a.hoOrder) {
		r := a.hoOrder[a.hoHead]
		a.hoHead++
		if e, ok := a.halfOpen[r.h]; ok && e.gen == r.gen {
			a.endHalfOpen(r.h, &e)
			a.stats.HalfOpenForgotten++
			a.compactOrder()
			return true
		}
	}
	a.compactOrder()
	return false
}

// compactOrder drops from hoOrder the entries already popped and, once
// most of it is stale (entries promoted or ended since), those too, so that
// it stays within a few times the half-open table.
func (a *Assembler) compactOrder() {
	live := len(a.hoOrder) - a.hoHead
	if a.hoHead > 4096 && a.hoHead > live {
		a.hoOrder = a.hoOrder[:copy(a.hoOrder, a.hoOrder[a.hoHead:])]
		a.hoHead = 0
	}
	if live > 4096 && live > 2*len(a.halfOpen) {
		kept := a.hoOrder[:0]
		for _, r := range a.hoOrder[a.hoHead:] {
			if e, ok := a.halfOpen[r.h]; ok && e.gen == r.gen {
				kept = append(kept, r)
			}
		}
		a.hoOrder, a.hoHead = kept, 0
	}
}

// expireHalfOpen ends the half-open entries quiet for longer than the
// idle timeout (which a conn would have ended as idle: with nothing
// carried, nothing is left to continue).
func (a *Assembler) expireHalfOpen(p stream.Pos) {
	limit := p.TS.UnixNano() - int64(a.opts.IdleTimeout)
	for h, e := range a.halfOpen {
		if e.last < limit {
			a.endHalfOpen(h, &e)
		}
	}
	a.compactOrder()
}

// flushHalfOpen ends every half-open entry: the input is over.
func (a *Assembler) flushHalfOpen() {
	for h, e := range a.halfOpen {
		a.endHalfOpen(h, &e)
	}
	a.hoOrder, a.hoHead = a.hoOrder[:0], 0
}

// orient returns the client and server of a new connection whose first
// packet is seg: its sender, unless it is a SYN-ACK.
func orient(seg *pcap.Segment) (client, server netip.AddrPort) {
	if seg.Flags&pcap.FlagSYN != 0 && seg.Flags&pcap.FlagACK != 0 {
		return seg.Dst, seg.Src
	}
	return seg.Src, seg.Dst
}
