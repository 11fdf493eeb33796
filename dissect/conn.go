package dissect

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/wscap/wscap/dissect/http1"
	"github.com/wscap/wscap/dissect/http2"
	"github.com/wscap/wscap/dissect/tls"
)

// phase is the state of a connection as a whole.
type phase uint8

const (
	phaseHTTP     phase = iota // reading HTTP requests; no upgrade seen yet
	phaseAwait101              // upgrade request seen, response awaited
	phaseProbe                 // no HTTP: looking for frames of a capture that started mid-stream
	phaseWS                    // 101 seen: both directions carry frames
	phaseH2                    // HTTP/2: the streams carry the WebSockets (h2.go)
	phaseAwaitH2c              // an HTTP/1.1 request asked for h2c, the answer awaited
	phaseDone                  // rejected, not WebSocket, or unparseable: ignore the rest
)

// Conn is the dissection state of one TCP connection: the layers that
// carry its bytes (HTTP/1.1, TLS, the mid-stream probe) and the WebSocket
// Session they feed. Its methods are called in input order by one
// goroutine (the reassembly of its shard).
type Conn struct {
	// Hot first (see dirState): what every packet reads, the flags here and
	// the Session's first fields.
	phase   phase
	swapped bool // the reassembly's "client" turned out to be the server
	ended   bool
	opened  bool // the TCP handshake was captured: the streams start at their beginning
	pooled  bool // made by NewStream: released at End
	counted bool // entered in the census
	wsOpen  bool // a session opened (101, or frames without a handshake)
	// continues: the 4-tuple's last connection was WebSocket, ended idle
	// (stream.Conn.Continues); the probe accepts its first frames.
	continues bool
	// Heads cut by the snapshot length (snaplen.go): maybeReq is a GET
	// whose cut head did not show an upgrade, its answer awaited.
	reqCut, respCut bool
	noReq           bool // maybeReq stands for a request that was not captured

	proto Protocol // what identify found

	Session

	probe *probeState
	// connMore holds what only some connections need, allocated when one
	// does (more): the Conn stays within the allocator's 1,792-byte size
	// class, which matters with hundreds of thousands of them.
	*connMore
}

// connMore is the part of a Conn that most connections never use.
type connMore struct {
	// sessions counts the sessions ended before the current one (upgrades
	// refused on a keep-alive connection); rejected those of all that did
	// not open.
	sessions, rejected int64
	maybeReq           *http1.RequestHead
	maybeCut           int64
	back               int64 // packets stamped earlier than the one before them
	backPos            Pos   // the first of them
	backBy             time.Duration
	backSum            time.Duration // the steps back, added up

	sess       *tls.Session // decrypting with the key log (wss.go)
	tlsPos     Pos          // the packet being decrypted
	tlsHeld    []heldProblem
	innerProto Protocol // what a decrypted TLS connection carried, when not HTTP/1.x
	// tlsSwapped is swapped when sess started: a mid-stream probe that
	// finds the roles reversed swaps the connection, not the TLS layer.
	tlsSwapped bool
	pending    []byte // client bytes after the request, before the 101
	pendingPos Pos
	pendingGap int64 // client bytes lost or dropped while pending
	// h2 is the HTTP/2 layer (h2.go); while an Upgrade: h2c is answered
	// (phaseAwaitH2c) it holds only the request that asked.
	h2 *h2Carrier
}

// more returns the connection's connMore, allocating it.
func (c *Conn) more() *connMore {
	if c.connMore == nil {
		c.connMore = new(connMore)
	}
	return c.connMore
}

// decrypting returns the TLS session that decrypts the connection, or nil.
func (c *Conn) decrypting() *tls.Session {
	if c.connMore == nil {
		return nil
	}
	return c.sess
}

// Info returns the connection's identity; ID is 0 until it is recognised as
// WebSocket.
func (c *Conn) Info() ConnInfo { return c.info }

// Active reports whether the connection's bytes still matter. When it
// returns false, reassembly may stop buffering and delivering them.
func (c *Conn) Active() bool { return c.phase != phaseDone }

// IsWebSocket reports whether the connection was numbered as WebSocket.
func (c *Conn) IsWebSocket() bool { return c.known }

func (c *Conn) mapDir(dir Direction) Direction {
	if c.swapped {
		return dir ^ 1
	}
	return dir
}

// Data hands the connection in-order stream bytes sent in direction dir
// (as the caller of NewConn sees it) by the packet at p. Data may modify b
// (client frames are unmasked in place) and does not keep it.
func (c *Conn) Data(dir Direction, p Pos, b []byte) {
	if c.ended || len(b) == 0 {
		return
	}
	c.d.now = p
	c.seen(p)
	if c.phase == phaseHTTP && c.decrypting() == nil {
		c.settleOther(c.mapDir(dir), p) // before mapping: deciding may swap the peers
	}
	dir = c.mapDir(dir)
	if s := c.decrypting(); s != nil {
		c.tlsPos = p
		s.Feed(c.tlsServer(dir), b) // the plaintext comes back through tlsUp
		if s.Done() && !s.Decrypting {
			c.phase = phaseDone // hellos read, nothing to decrypt: the rest is not needed
		}
		return
	}
	c.plainData(dir, p, b)
}

// plainData is Data for the bytes of the connection's innermost stream:
// the TCP stream itself, or the plaintext of its TLS layer. dir is mapped.
func (c *Conn) plainData(dir Direction, p Pos, b []byte) {
	switch c.phase {
	case phaseHTTP:
		if dir == ClientToServer || !c.dirs[ClientToServer].sawHTTP {
			c.httpData(dir, p, b)
		}
		// Server bytes before any upgrade request answer earlier requests.
	case phaseAwait101:
		if dir == ServerToClient {
			c.responseData(p, b)
			return
		}
		c.pendingData(p, b)
	case phaseProbe:
		c.probeData(dir, p, b)
	case phaseWS:
		c.Session.feed(dir, p, b)
	case phaseH2:
		c.h2.data(dir, p, b)
	case phaseAwaitH2c:
		if dir == ServerToClient {
			c.h2cResponse(p, b)
			return
		}
		c.pendingData(p, b)
	}
}

// Gap tells the connection that n bytes of direction dir were not captured
// just before the next Data.
func (c *Conn) Gap(dir Direction, p Pos, n int64) { c.gap(dir, p, n, false) }

// Truncated tells the connection that the packet at p was cut by the
// capture's snapshot length: its last n payload bytes are missing.
func (c *Conn) Truncated(dir Direction, p Pos, n int64) { c.gap(dir, p, n, true) }

func (c *Conn) gap(dir Direction, p Pos, n int64, cut bool) {
	if c.ended || n <= 0 {
		return
	}
	c.seen(p)
	if c.phase == phaseHTTP && c.decrypting() == nil {
		c.settle(p) // a loss decides on kept first bytes (identify.go)
	}
	dir = c.mapDir(dir)
	if s := c.decrypting(); s != nil {
		c.tlsPos = p
		s.Gap(dir == ServerToClient, n)
		return
	}
	c.plainGap(dir, p, n, cut)
}

// plainGap is gap for the innermost stream (see plainData).
func (c *Conn) plainGap(dir Direction, p Pos, n int64, cut bool) {
	switch c.phase {
	case phaseH2:
		c.h2.gap(dir, p, n)
	case phaseAwaitH2c:
		c.phase = phaseDone
	case phaseProbe:
		c.probeGap(dir, p, n, cut)
	case phaseWS:
		if cut {
			c.d.finding(&c.Session, p, CodeTruncated, dir, "the packet was cut by the snapshot length: %d payload bytes from the %s are missing", n, dir)
		} else {
			c.d.finding(&c.Session, p, CodeGap, dir, "%d bytes from the %s were not captured", n, dir)
		}
		c.dirs[dir].gap(&c.Session, dir, p, n)
	case phaseAwait101:
		if dir == ClientToServer {
			c.more().pendingGap += n
			return
		}
		if cut && len(c.dirs[ServerToClient].http) > 0 {
			c.cutResponse(p, n)
			return
		}
		if c.known {
			c.d.finding(&c.Session, p, CodeGap, dir, "%d bytes of the handshake response were not captured", n)
		}
		c.phase = phaseDone
	case phaseHTTP:
		if s := &c.dirs[dir]; cut && dir == ClientToServer && len(s.http) > 0 && s.sawHTTP {
			c.cutRequest(p, n)
			return
		}
		// Loss before any upgrade: the HTTP parse cannot resume safely.
		if c.known {
			c.d.finding(&c.Session, p, CodeGap, dir, "%d bytes from the %s were not captured", n, dir)
		}
		c.phase = phaseDone
	}
}

// End closes the connection: the TCP connection finished (reason FIN or
// RST), went idle, or the input ended. Incomplete messages are flushed, the
// closing handshake is judged, and a KindConnection event is emitted for a
// WebSocket connection. It reports whether the connection was WebSocket.
// A Conn made by NewStream is released (see Release) before End returns.
func (c *Conn) End(p Pos, reason EndReason) bool {
	if !c.ended && c.phase == phaseHTTP {
		c.settle(c.laterOf(p)) // kept first bytes are decided on (identify.go)
	}
	if s := c.decrypting(); s != nil && !c.ended {
		c.tlsPos = p
		s.Close() // secrets still awaited are reported missing
	}
	c.end(p, reason)
	if !c.counted {
		c.counted = true
		c.count()
	}
	ws := c.known || c.connMore != nil && (c.sessions > 0 || c.h2 != nil && c.h2.sessions > 0)
	if c.pooled {
		c.Release()
	}
	return ws
}

func (c *Conn) end(p Pos, reason EndReason) {
	if c.ended {
		return
	}
	c.ended = true
	p = c.laterOf(p)
	c.seen(p)
	if m := c.connMore; m != nil && m.h2 != nil {
		m.h2.end(p, reason)
	}
	c.endSession(p, reason)
}

// laterOf returns p, or the connection's last packet if p comes before
// it: the end is never reported before what came last.
func (c *Conn) laterOf(p Pos) Pos {
	if p.Before(c.sum.End) {
		return c.sum.End
	}
	return p
}

// endSession emits the records that end the connection's current
// WebSocket session, if it has one: the TCP connection ended (reason), or
// the client asks for another upgrade after this one was refused.
func (c *Conn) endSession(p Pos, reason EndReason) {
	if !c.known {
		return
	}
	if c.connMore != nil && c.back > 0 {
		c.d.finding(&c.Session, p, CodeTimeBackwards, 0, "%d packets of this connection are stamped earlier than its packet before them (the first: packet %d, %s back); those steps count as no time in its duration", c.back, c.backPos.Pkt, c.backBy)
	}
	if reason == EndEvicted {
		c.d.finding(&c.Session, p, CodeConnsCapped, 0, "more connections were open than the connection cap (reassembly's Options.MaxConns); this one, quiet the longest, was ended to make room")
	}
	if c.phase == phaseAwait101 && !c.hsSent {
		c.d.finding(&c.Session, p, CodeNoResponse, ServerToClient, "the connection ended before the server answered the upgrade request")
		c.emitHandshake(p)
	}
	c.sum.Duration = c.duration()
	open := c.phase == phaseWS
	if !open {
		c.more().rejected++ // refused, unanswered or malformed
	}
	c.Session.end(p, reason, open)
}

// seen moves the connection's clock to the packet at p. wscap trusts the
// order of the packets, not their clocks: time between two packets of the
// connection counts towards its duration only when it goes forward; a
// packet stamped earlier than the one before it (merged or clock-adjusted
// captures) adds nothing, and is reported when the connection ends.
func (c *Conn) seen(p Pos) {
	if p.TS.Before(c.sum.End.TS) {
		m := c.more()
		d := c.sum.End.TS.Sub(p.TS)
		if m.back == 0 {
			m.backPos, m.backBy = p, d
		}
		m.back++
		m.backSum += d
	}
	c.sum.End = p
}

// duration is the session's duration: End - Start, plus every step back
// (which the difference counted against it), so only forward steps count.
func (c *Conn) duration() time.Duration {
	d := c.sum.End.TS.Sub(c.sum.Start.TS)
	if m := c.connMore; m != nil {
		d += m.backSum
	}
	return max(0, d)
}

// recognise numbers the connection's session as WebSocket.
func (c *Conn) recognise(p Pos) {
	if c.Session.recognise(p) {
		c.releaseTLSProblems(p)
	}
}

// swap makes the reassembly's second peer the client.
func (c *Conn) swap() {
	c.swapped = !c.swapped
	c.info.Client, c.info.Server = c.info.Server, c.info.Client
	c.dirs[0], c.dirs[1] = c.dirs[1], c.dirs[0]
}

// httpData parses HTTP request heads in the client direction until one asks
// for a WebSocket upgrade. Until the connection is identified, b is the
// first delivery of dir, or follows its first bytes kept undecided
// (identify.go): the bytes joined are kept again while still undecided.
func (c *Conn) httpData(dir Direction, p Pos, b []byte) {
	if s := &c.dirs[dir]; !c.dirs[ClientToServer].sawHTTP {
		kept := len(s.http) > 0
		if kept {
			b = append(s.http, b...)
			s.http = nil
		}
		if undecided(dir, b) {
			if !kept {
				b = bytes.Clone(b) // b is borrowed
			}
			s.http = b
			return
		}
	}
	c.requests(dir, p, b)
}

// requests is httpData for bytes that are decided on.
func (c *Conn) requests(dir Direction, p Pos, b []byte) {
	s := &c.dirs[dir]
	for len(b) > 0 && c.phase == phaseHTTP {
		if s.bodyLeft > 0 { // skip the body of an ordinary request
			n := int64(len(b))
			if n > s.bodyLeft {
				n = s.bodyLeft
			}
			s.bodyLeft -= n
			b = b[n:]
			continue
		}
		if len(s.http) == 0 && !s.sawHTTP {
			if !(http1.LooksLikeRequest(b) || startsWithMethod(b)) || bytes.HasPrefix(b, []byte("HTTP/")) || http2.StartsPreface(b) {
				if !c.dirs[ClientToServer].sawHTTP && !c.dirs[ServerToClient].sawHTTP {
					c.identify(dir, p, b)
				}
				return
			}
		}
		if dir == ServerToClient {
			// The "server" side speaks first with a request: it is the client.
			c.swap()
			dir = ClientToServer
			s = &c.dirs[dir]
		}
		s.sawHTTP = true
		head, rest, ok := c.takeHead(s, p, b)
		if !ok {
			return
		}
		b = rest
		req, err := http1.ParseRequest(head, c.d.opts.MaxHandshake)
		if c.known && (req != nil && wantsWebSocket(req) || err != nil && isUpgradeAttempt(head)) {
			c.nextSession(p) // asked again after a refusal
		}
		switch {
		case err == nil:
		case isHeadError(err) && req != nil && wantsWebSocket(req):
			// A broken upgrade request: report it and go on with what
			// could be read, as a server might.
			c.recognise(p)
			c.d.finding(&c.Session, p, CodeMalformedHandshake, ClientToServer, "the upgrade request is not valid HTTP: %s", headErr(err))
		default:
			if isUpgradeAttempt(head) {
				c.recognise(p)
				if errors.Is(err, http1.ErrHeadTooLarge) {
					c.d.finding(&c.Session, p, CodeHandshakeTooLarge, 0, "the upgrade request has more header fields or bytes than wscap reads (%s); the connection is not decoded", headErr(err))
				} else {
					c.d.finding(&c.Session, p, CodeMalformedHandshake, ClientToServer, "the upgrade request is not valid HTTP: %s", headErr(err))
				}
				c.phase = phaseAwait101
				c.emitHandshake(p)
			} else if c.known && errors.Is(err, http1.ErrHeadTooLarge) {
				c.d.finding(&c.Session, p, CodeHandshakeTooLarge, 0, "a request after the refused upgrade has more header fields or bytes than wscap reads (%s); the rest of the connection is not decoded", headErr(err))
			}
			c.phase = phaseDone
			return
		}
		if !wantsWebSocket(req) && asksH2c(req) && requestBodyLength(req) == 0 {
			// RFC 7540 §3.2: the answer decides (h2c.go).
			c.phase = phaseAwaitH2c
			// The request is stream 1 of the HTTP/2 connection to come.
			c.more().h2 = &h2Carrier{c: c, others: 1, other: []string{req.Method + " " + req.Target + " (stream 1, the h2c upgrade)"}}
			c.pendingData(p, b)
			return
		}
		if !wantsWebSocket(req) {
			s.bodyLeft = requestBodyLength(req)
			if s.bodyLeft < 0 {
				c.phase = phaseDone // a body we cannot delimit (chunked): give up on this connection
			}
			continue
		}
		c.recognise(p)
		c.hs.Captured = true
		c.checkRequest(p, req)
		c.phase = phaseAwait101
		c.pendingData(p, b)
		return
	}
}

// takeHead accumulates b into s.http until a complete HTTP head is there.
// It returns the head and the bytes after it, or ok=false when more bytes
// are needed. A head over MaxHandshake comes back cut at MaxHandshake+1
// bytes, for the parser to refuse.
func (c *Conn) takeHead(s *dirState, p Pos, b []byte) (head, rest []byte, ok bool) {
	buf := b
	if len(s.http) > 0 {
		s.http = append(s.http, b...)
		buf = s.http
	}
	end := http1.HeadEnd(buf, s.scan)
	if max := c.d.opts.MaxHandshake; end > max || end < 0 && len(buf) > max {
		// A head over the cap, whole or not: the parser is handed its
		// first max+1 bytes and says so, the same however the bytes came.
		// The connection ends there.
		s.http, s.scan = nil, 0
		return buf[:max+1], nil, true
	}
	if end < 0 {
		if len(s.http) == 0 {
			s.http = append(s.http, b...)
		}
		s.scan = max(0, len(buf)-3)
		return nil, nil, false
	}
	s.scan = 0
	if len(s.http) > 0 {
		head = s.http[:end]
		used := end - (len(s.http) - len(b))
		rest = b[used:]
		s.http = s.http[:0:0] // head stays valid: a new array is started next time
		return head, rest, true
	}
	return b[:end], b[end:], true
}

// refused goes back to reading HTTP requests after the server refused an
// upgrade: on a keep-alive connection the client may ask again (a new
// session, numbered on its own) or go on with ordinary requests. The
// client bytes sent while the answer was awaited are those requests.
func (c *Conn) refused(p Pos) {
	var pend []byte
	var lost int64
	if m := c.connMore; m != nil {
		pend, lost = m.pending, m.pendingGap
		m.pending, m.pendingGap = nil, 0
	}
	if lost > 0 {
		c.phase = phaseDone // the requests cannot be delimited
		return
	}
	c.phase = phaseHTTP
	c.httpData(ClientToServer, p, pend)
}

// nextSession ends the current session (an upgrade that did not open a
// WebSocket) before a new upgrade request on the same TCP connection,
// which starts a session of its own at p.
func (c *Conn) nextSession(p Pos) {
	c.endSession(p, EndRejected)
	c.more().sessions++
	c.known, c.hsSent = false, false
	c.hs = Handshake{}
	c.reqCut, c.respCut = false, false
	c.sum = Summary{Start: p, End: p}
	c.info.ID, c.info.Host, c.info.Path = 0, "", ""
	c.more().back, c.backSum = 0, 0
}

// pendingData keeps client bytes sent before the 101 arrived.
func (c *Conn) pendingData(p Pos, b []byte) {
	if len(b) == 0 {
		return
	}
	m := c.more()
	if len(m.pending) == 0 && m.pendingGap == 0 {
		m.pendingPos = p
	}
	m.pending = holdPending(m.pending, &m.pendingGap, b)
}

// holdPending appends b to the client bytes held until the server's
// answer, within maxPending; what does not fit counts in *dropped.
func holdPending(held []byte, dropped *int64, b []byte) []byte {
	room := maxPending - len(held)
	if len(b) > room {
		*dropped += int64(len(b) - room)
		b = b[:room]
	}
	return append(held, b...)
}

// responseData reads the server's answer to the upgrade request.
func (c *Conn) responseData(p Pos, b []byte) {
	s := &c.dirs[ServerToClient]
	for len(b) > 0 && c.phase == phaseAwait101 {
		head, rest, ok := c.takeHead(s, p, b)
		if !ok {
			return
		}
		b = rest
		resp, err := http1.ParseResponse(head, c.d.opts.MaxHandshake)
		if err != nil && c.connMore != nil && c.maybeReq != nil {
			// The answer was to tell whether a request not seen whole was
			// an upgrade (tentative): a head that does not parse tells
			// nothing, and no WebSocket is made of it.
			c.maybeReq = nil
			c.proto = ProtoHTTP
			c.phase = phaseDone
			return
		}
		if err != nil {
			if errors.Is(err, http1.ErrHeadTooLarge) {
				c.d.finding(&c.Session, p, CodeHandshakeTooLarge, 0, "the upgrade response has more header fields or bytes than wscap reads (%s)", headErr(err))
			} else {
				c.d.finding(&c.Session, p, CodeMalformedHandshake, ServerToClient, "the upgrade response is not valid HTTP: %s", headErr(err))
			}
			c.emitHandshake(p)
			c.phase = phaseDone
			return
		}
		if resp.Status >= 100 && resp.Status < 200 && resp.Status != 101 {
			continue // an interim response (103 Early Hints, ...)
		}
		c.answer(p, resp, b)
		return
	}
}

// answer takes the server's final answer to the upgrade request, then b,
// the bytes after it. It reports whether the answer belonged to an upgrade
// (see tentative).
func (c *Conn) answer(p Pos, resp *http1.ResponseHead, b []byte) bool {
	if c.connMore != nil && c.maybeReq != nil && !c.tentative(p, resp) {
		return false
	}
	{
		c.d.holdFindings()
		c.checkResponse(p, resp)
		c.emitHandshake(p)
		c.d.releaseFindings()
		if resp.Status != 101 {
			c.refused(p)
			return true
		}
		c.phase = phaseWS
		c.wsOpen = true
		c.dirs[ClientToServer].startFrames(&c.Session, ClientToServer)
		c.dirs[ServerToClient].startFrames(&c.Session, ServerToClient)
		if m := c.connMore; m != nil && (len(m.pending) > 0 || m.pendingGap > 0) {
			c.d.finding(&c.Session, p, CodeDataBefore101, ClientToServer, "the client sent %d bytes before the 101 response arrived (from packet %d on)", int64(len(c.pending))+c.pendingGap, c.pendingPos.Pkt)
			pend := c.pending
			c.pending = nil
			c.Session.feed(ClientToServer, p, pend)
			if c.pendingGap > 0 {
				c.Gap(c.mapDir(ClientToServer), p, c.pendingGap)
			}
		}
		c.Session.feed(ServerToClient, p, b)
		return true
	}
}

// headErr is an error of dissect/http1 as findings quote it: without the
// package's prefix, which names wscap's code, not the capture's fault.
func headErr(err error) string {
	return strings.TrimPrefix(err.Error(), "http1: ")
}

// isHeadError reports whether err is a *http1.HeadError: a malformed head that
// was still read as far as it could be.
func isHeadError(err error) bool {
	var herr *http1.HeadError
	return errors.As(err, &herr)
}

// startsWithMethod reports whether b starts like a request line whose
// target or version may be broken: an upper-case method and a space.
func startsWithMethod(b []byte) bool {
	for i, c := range b {
		switch {
		case c == ' ':
			return i >= 3
		case c < 'A' || c > 'Z' || i > 16:
			return false
		}
	}
	return false
}

// isUpgradeAttempt reports whether a raw head mentions a WebSocket upgrade,
// for heads too broken to parse.
func isUpgradeAttempt(head []byte) bool {
	s := strings.ToLower(string(head[:min(len(head), 8192)]))
	return strings.Contains(s, "websocket")
}

// wantsWebSocket reports whether a request is a WebSocket handshake
// attempt: an Upgrade header with the token "websocket", or a
// Sec-WebSocket-Key (RFC 6455 §4.1).
func wantsWebSocket(req *http1.RequestHead) bool {
	return req.Header.HasToken("Upgrade", "websocket") || req.Header.Count("Sec-WebSocket-Key") > 0
}

// requestBodyLength returns the length of an ordinary request's body: its
// Content-Length, 0 without one, -1 when it cannot be known here.
func requestBodyLength(req *http1.RequestHead) int64 {
	if _, ok := req.Header.Get("Transfer-Encoding"); ok {
		return -1
	}
	v, ok := req.Header.Get("Content-Length")
	if !ok {
		return 0
	}
	// OWS already trimmed; a sign, which strconv takes, a server refuses.
	if !http1.Digits(v) {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return -1
	}
	return n
}
