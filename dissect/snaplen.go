package dissect

import (
	"bytes"
	"slices"
	"strings"

	"github.com/wscap/wscap/dissect/http1"
)

// Heads cut by the snapshot length. A capture made with a small snaplen
// (tcpdump -s 96) keeps the first bytes of every packet: the request and
// status lines and the first header fields of a handshake, every frame
// header at the start of a packet, and the payloads that fit. A head whose
// end was cut is taken to end with its packet (a handshake head is sent
// in one segment), read as far as its complete lines go, and checked only
// for what is there.

// cutHead makes a parsable head of the captured start of a head: its
// complete lines, or its start line alone when even that was cut: a status
// line cut in its reason phrase still says its version and status, a
// request line cut in its version (the target is whole) is taken for
// HTTP/1.1, the only version a WebSocket upgrade may use. It returns nil
// when nothing can be read.
func cutHead(b []byte, request bool) []byte {
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return append(slices.Clip(b[:i+1]), "\r\n"...)
	}
	line := bytes.TrimRight(b, "\r")
	if request {
		sp := bytes.LastIndexByte(line, ' ')
		v := line[sp+1:]
		switch {
		case sp < 0 || bytes.Count(line, []byte{' '}) != 2:
			return nil // cut in the method or the target
		case len(v) == len("HTTP/1.1") && bytes.HasPrefix(v, []byte("HTTP/")):
		case len(v) < len("HTTP/1.1") && strings.HasPrefix("HTTP/1.1", string(v)):
			line = append(slices.Clip(line[:sp+1]), "HTTP/1.1"...)
		default:
			return nil
		}
	} else if len(line) < len("HTTP/1.1 101") {
		return nil
	}
	return append(slices.Clip(line), "\r\n\r\n"...)
}

// cutRequest reads a client head whose end the snapshot length cut (n
// bytes missing). A request that shows an upgrade is the handshake; a GET
// whose visible lines do not show one may still be (its Upgrade header may
// be among what was cut): the response decides. Anything else is an
// ordinary request, and the next one starts with the next packet.
func (c *Conn) cutRequest(p Pos, n int64) {
	s := &c.dirs[ClientToServer]
	head := cutHead(s.http, true)
	s.http, s.scan = nil, 0
	if head == nil {
		c.phase = phaseDone
		return
	}
	req, err := http1.ParseRequest(head, c.d.opts.MaxHandshake)
	if req == nil || err != nil && !isHeadError(err) {
		c.phase = phaseDone
		return
	}
	if c.known {
		c.nextSession(p)
	}
	switch {
	case wantsWebSocket(req):
		c.recognise(p)
		c.hs.Captured, c.hs.Cut, c.reqCut = true, true, true
		c.d.finding(&c.Session, p, CodeTruncated, ClientToServer, "the snapshot length cut the upgrade request: %d bytes are missing; only the fields shown were captured", n)
		c.checkRequest(p, req)
		c.phase = phaseAwait101
	case req.Method == "GET" && req.Header.Count("Upgrade") == 0:
		c.more().maybeReq = req
		c.maybeCut = n
		c.phase = phaseAwait101
	}
}

// cutResponse reads a server head whose end the snapshot length cut. For
// a request that did not show an upgrade (maybeReq), a 101 whose visible
// fields do not name another protocol is taken for the WebSocket upgrade.
func (c *Conn) cutResponse(p Pos, n int64) {
	s := &c.dirs[ServerToClient]
	head := cutHead(s.http, false)
	s.http, s.scan = nil, 0
	if head == nil {
		c.phase = phaseDone
		return
	}
	resp, err := http1.ParseResponse(head, c.d.opts.MaxHandshake)
	if resp == nil || err != nil && !isHeadError(err) || resp.Status >= 100 && resp.Status < 200 && resp.Status != 101 {
		c.phase = phaseDone
		return
	}
	c.respCut = true
	if c.known {
		c.d.finding(&c.Session, p, CodeTruncated, ServerToClient, "the snapshot length cut the upgrade response: %d bytes are missing; only the fields shown were captured", n)
	}
	if !c.answer(p, resp, nil) {
		return
	}
	if c.phase == phaseWS {
		// The missing bytes may hold the first frames: look for a frame
		// header in the next packet.
		c.dirs[ServerToClient].frames.resync = true
	}
}

// tentative decides, from the answer to a GET whose cut head did not show
// an upgrade, whether it was the WebSocket handshake: a 101 whose visible
// fields name no other protocol. It reports whether the answer goes on to
// be read as the handshake's.
func (c *Conn) tentative(p Pos, resp *http1.ResponseHead) bool {
	req := c.maybeReq
	c.maybeReq = nil
	up, ok := resp.Header.Get("Upgrade")
	switch {
	case resp.Status != 101:
		c.refused(p) // an ordinary request: read on
		return false
	case ok && !http1.EqualFold(up, "websocket"), c.noReq && !ok:
		c.phase = phaseDone // another protocol's upgrade
		return false
	}
	c.recognise(p)
	if c.noReq {
		c.hs.Captured, c.reqCut = true, true
		c.d.finding(&c.Session, p, CodeNotCaptured, 0, "the upgrade request was not captured, its 101 response was; frames are decoded from there (%s is the client)", c.info.Client)
		return true
	}
	c.hs.Captured, c.hs.Cut, c.reqCut = true, true, true
	c.d.finding(&c.Session, p, CodeTruncated, ClientToServer, "the snapshot length cut the upgrade request before it showed an upgrade (%d bytes are missing); the 101 that answered it is taken for a WebSocket upgrade", c.maybeCut)
	c.checkRequest(p, req)
	return true
}
