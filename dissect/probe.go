package dissect

import (
	"unicode/utf8"

	"github.com/wscap/wscap/dissect/http1"
	"github.com/wscap/wscap/dissect/http2"
	"github.com/wscap/wscap/dissect/tls"
)

// Detection of WebSocket traffic whose opening handshake was not captured
// (a capture that started mid-stream).
//
// The rule: the bytes of each direction are walked as a chain of frame
// headers, each header's length pointing at the next, across segments. A
// header is plausible when it breaks none of the header rules (headerRules,
// frame.go; the decoder's and the resynchroniser's): its opcode is defined,
// its RSV bits are 0 (or RSV1 on a text or binary frame), its length uses
// the minimal encoding, a control frame is final and at most 125 bytes;
// and every frame of one direction has the same mask bit (and not both
// directions masked).
//
// A direction starts unaligned (the capture may begin inside a frame): a
// segment is searched for a chain of plausible headers that ends exactly
// at the segment's end, which aligns the direction; a segment without one
// is a miss. Once aligned, a header that is not plausible where the chain
// points is a break, and so is a frame that breaks the protocol in a way a
// real peer does not: a continuation with no message open, a text or
// binary frame inside a fragmented message, a text payload (unmasked) that
// is not UTF-8 or holds control characters, or, when both directions
// carry frames, both masked or both unmasked (a client always masks). The
// connection is WebSocket once probeAccept headers were chained, as many
// of them with payload, with fewer than half as many breaks, and the chain
// is confirmed: it carried on at the start of a later segment at least
// twice, or both directions carry frames; it is not after probeMaxFails
// breaks, probeMaxMisses misses or probeMaxBytes bytes. DNS over TCP (its
// length prefixes read as continuations), bytes dense in 00-02 (empty or
// control-filled frames) and encrypted streams (mask bits at random) fail
// these rules.
// Only a connection whose beginning was not captured is probed (see
// identify). HTTP, TLS and HTTP/2 never pass: an HTTP request is parsed as
// such before probing, and a segment holding a chain of TLS records or
// HTTP/2 frames identifies the connection as that.
const (
	probeAccept    = 3
	probeMaxFails  = 2
	probeMaxMisses = 8
	probeMaxBytes  = 256 << 10
)

type probeSeg struct {
	dir  Direction
	pos  Pos
	data []byte
	gap  int64 // lost bytes (data is nil)
	cut  bool  // the loss was a snaplen cut
}

type probeState struct {
	segs    []probeSeg
	size    int
	left    [2]uint64 // payload of the frame in progress, per direction
	aligned [2]bool   // left is meaningful
	masked  [2]int    // plausible headers per direction with the mask bit set
	plain   [2]int    // ... and clear
	open    [2]bool   // a fragmented message is open in the chain
	headers int
	payload int // headers with payload
	crossed int // segments whose first header was where the chain pointed
	fails   int // breaks of an aligned chain
	misses  int // unaligned segments with no chain
}

// confirmed reports whether the chain is more than one segment's fluke.
func (ps *probeState) confirmed() bool {
	both := (ps.masked[0] > 0 || ps.plain[0] > 0) && (ps.masked[1] > 0 || ps.plain[1] > 0)
	return ps.crossed >= 2 || both
}

// probeData looks at stream bytes of a connection that did not start with
// an HTTP request.
func (c *Conn) probeData(dir Direction, p Pos, b []byte) {
	if server, ok := c.forcedServer(); ok {
		if server == ClientToServer { // the reassembly's "client" has the WebSocket port
			c.swap()
		}
		c.startWithoutHandshake(p)
		c.Session.feed(c.mapDir(dir), p, b)
		return
	}
	// TLS records and HTTP/2 frames chained to the end of a segment are
	// what they look like, never a WebSocket.
	switch {
	case tls.RecordChain(b):
		c.proto = ProtoTLS
		c.giveUp()
		return
	case http2.FrameChain(b):
		c.proto = ProtoHTTP2
		c.giveUp()
		return
	}
	ps := c.probe
	if ps == nil {
		ps = &probeState{}
		c.probe = ps
	}
	ps.segs = append(ps.segs, probeSeg{dir: dir, pos: p, data: append([]byte(nil), b...)})
	ps.size += len(b)
	ps.walk(c, dir, b)
	switch {
	case ps.masked[0] > 0 && ps.masked[1] > 0, ps.plain[0] > 0 && ps.plain[1] > 0:
		c.giveUp() // both peers mask, or neither: no client
	case ps.headers-2*ps.fails >= probeAccept && ps.payload >= probeAccept && ps.confirmed(),
		c.continues && ps.headers > 0 && ps.fails == 0:
		c.acceptProbe(p)
	case ps.fails >= probeMaxFails || ps.misses >= probeMaxMisses || ps.size > probeMaxBytes:
		c.giveUp()
	}
}

// walk follows the chain of frame headers through b.
func (ps *probeState) walk(c *Conn, dir Direction, b []byte) {
	var i uint64
	first := ps.aligned[dir] // the chain points into this segment
	if ps.aligned[dir] {
		i = ps.left[dir]
	} else {
		start, ok := chainStart(b, c.d.opts.MaxFrame)
		if !ok {
			ps.misses++
			return
		}
		i = uint64(start)
	}
	for i < uint64(len(b)) {
		h, n, err := ParseFrameHeader(b[i:])
		if err != nil { // a header cut by the segment end: resume unaligned
			ps.aligned[dir] = false
			return
		}
		if !probePlausible(h, c.d.opts.MaxFrame) || !ps.sequence(dir, h) || !probeText(h, b[i+uint64(n):]) {
			ps.fails++
			ps.aligned[dir] = false
			return
		}
		if first {
			ps.crossed++
			first = false
		}
		ps.headers++
		if h.Length > 0 {
			ps.payload++
		}
		if h.Masked {
			ps.masked[dir]++
		} else {
			ps.plain[dir]++
		}
		if ps.masked[dir] > 0 && ps.plain[dir] > 0 {
			ps.fails += probeMaxFails // one peer both masks and does not: not WebSocket
			return
		}
		i += uint64(n) + h.Length
	}
	ps.left[dir] = i - uint64(len(b))
	ps.aligned[dir] = true
}

// chainStart finds the first offset of b from which plausible frame headers
// chain to exactly the end of b: from the start of b, one header will do;
// further in, at least two (one header alone is too easily found in random
// bytes), none of them an empty non-final continuation (00 00, common in
// padding). A chain longer than chainMax headers is not followed, so that
// hostile input cannot make the search quadratic.
func chainStart(b []byte, maxFrame uint64) (int, bool) {
	const chainMax = 64
	for start := 0; start+2 <= len(b); start++ {
		i := uint64(start)
		steps := 0
		for ; i < uint64(len(b)) && steps < chainMax; steps++ {
			h, n, err := ParseFrameHeader(b[i:])
			if err != nil || !probePlausible(h, maxFrame) || (start > 0 && h.Length == 0 && !h.Fin) {
				break
			}
			i += uint64(n) + h.Length
		}
		if i == uint64(len(b)) && (steps >= 2 || start == 0) {
			return start, true
		}
	}
	return 0, false
}

// probeGap records lost bytes while probing.
func (c *Conn) probeGap(dir Direction, p Pos, n int64, cut bool) {
	ps := c.probe
	if ps == nil {
		return
	}
	ps.segs = append(ps.segs, probeSeg{dir: dir, pos: p, gap: n, cut: cut})
	ps.aligned[dir] = false
}

// sequence follows the fragmentation of dir's messages (RFC 6455 §5.4)
// and reports whether h may come next.
func (ps *probeState) sequence(dir Direction, h FrameHeader) bool {
	switch {
	case h.Opcode.IsControl():
		return true
	case h.Opcode == OpContinuation:
		if !ps.open[dir] {
			return false
		}
	case ps.open[dir]:
		return false
	}
	ps.open[dir] = !h.Fin
	return true
}

// probeText reports whether the start of a text frame's payload, rest (the
// bytes after its header in the segment), reads as text: UTF-8 without
// control characters other than tab, CR and LF. Other frames pass.
func probeText(h FrameHeader, rest []byte) bool {
	if h.Opcode != OpText || h.RSV&4 != 0 { // compressed text is not text yet
		return true
	}
	var buf [64]byte
	n := copy(buf[:], rest[:min(uint64(len(rest)), h.Length)])
	t := buf[:n]
	if h.Masked {
		mask(maskKey(h.Key), t)
	}
	for len(t) > 0 {
		r, size := utf8.DecodeRune(t)
		if r == utf8.RuneError && size <= 1 {
			return len(t) < utf8.UTFMax && !utf8.FullRune(t) // a rune cut by the sample's end
		}
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return false
		}
		t = t[size:]
	}
	return true
}

// probePlausible reports whether h is a header some peer may send: RSV1
// is taken for permessage-deflate, and the mask bit is checked by walk,
// which does not know yet which peer is the client.
func probePlausible(h FrameHeader, maxFrame uint64) bool {
	rules := headerRules{maxFrame: maxFrame, mask: maskRule{any: true}, deflate: true}
	return rules.check(&h) == 0
}

func (c *Conn) giveUp() {
	c.probe = nil
	c.phase = phaseDone
}

// acceptProbe starts decoding a connection detected without handshake and
// replays the bytes seen while probing.
func (c *Conn) acceptProbe(p Pos) {
	ps := c.probe
	c.probe = nil
	// The peer that masks is the client (RFC 6455 §5.1); one that sent
	// only unmasked frames is the server.
	if ps.masked[ServerToClient] > 0 || ps.masked[ClientToServer] == 0 && ps.plain[ClientToServer] > 0 {
		c.swap()
	}
	// Everything replayed is reported at p, the packet that completed the
	// detection: events never go back in input order.
	c.startWithoutHandshake(p)
	for _, sg := range ps.segs {
		if sg.data == nil {
			c.gap(sg.dir, p, sg.gap, sg.cut)
			continue
		}
		d := c.mapDir(sg.dir)
		c.Session.feed(d, p, sg.data)
	}
}

// forcedServer reports which side (as the reassembly sees it) is the server
// when one of the connection's ports was given with --ws-port.
func (c *Conn) forcedServer() (Direction, bool) {
	for _, port := range c.d.opts.WSPorts {
		if c.info.Server.Port() == port {
			return ServerToClient, true
		}
		if c.info.Client.Port() == port {
			return ClientToServer, true
		}
	}
	return 0, false
}

// startWithoutHandshake numbers a connection found without its handshake,
// emits its handshake record (Captured false) and starts frame decoding.
// Each direction starts by looking for a frame header, since the capture
// may begin inside a frame.
func (c *Conn) startWithoutHandshake(p Pos) {
	c.recognise(p)
	c.hs = Handshake{Captured: false, Subprotocol: c.d.opts.AssumeSubprotocol, TLS: c.tlsInfo()}
	if ext := c.d.opts.AssumeExtensions; ext != "" {
		exts, err := ParseExtensions([]string{ext})
		if err == nil {
			c.hs.Extensions = exts
			for _, e := range exts {
				if http1.EqualFold(e.Name, "permessage-deflate") {
					c.deflate = negotiateDeflate(e, []Extension{e}, func(Code, string, ...any) {})
				}
			}
		}
	} else {
		// Without a handshake, RSV1 on a data message is taken for
		// permessage-deflate with context takeover, whose history is unknown.
		c.deflate = deflateParams{on: true, bits: [2]int{15, 15}}
		c.dirs[0].messages.hist.lost, c.dirs[1].messages.hist.lost = true, true
	}
	c.emitHandshake(p)
	c.d.finding(&c.Session, p, CodeNotCaptured, 0, "the opening handshake was not captured; frames are decoded from the stream (%s is the client)", c.info.Client)
	c.phase = phaseWS
	c.wsOpen = true
	for d := range c.dirs {
		c.dirs[d].frames.resync = true
	}
}
