package dissect

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/wscap/wscap/dissect/http1"
	"github.com/wscap/wscap/dissect/http2"
	"golang.org/x/net/http2/hpack"
)

// WebSocket over HTTP/2 (RFC 8441): a TCP connection (or the plaintext of
// a TLS one) that carries HTTP/2 is read by an http2.Conn; each stream
// opened by an extended CONNECT with :protocol websocket is a Session of
// its own, numbered and reported like any other WebSocket, its DATA in
// both directions the session's byte streams. The other streams are
// counted and listed, never decoded.

// h2Carrier is the HTTP/2 layer of a Conn; it is the http2.Handler.
type h2Carrier struct {
	c    *Conn
	conn *http2.Conn
	pos  Pos
	ws   map[uint32]*h2Stream // the WebSocket streams still open
	// Counts of the connection, for the census and the views.
	sessions  int   // WebSocket streams seen
	others    int64 // other streams
	undecoded int64 // streams whose request headers could not be decoded
	// Other lists the first few other streams by method and path.
	other []string
	// tentative: the server spoke first; HTTP/2 only if the client's
	// first bytes are the preface (confirm). prefaceSeen counts the
	// client's bytes so far, all of them the preface's beginning.
	tentative   bool
	prefaceSeen int
	// held are connection-level problems from before the first WebSocket
	// stream, reported on it.
	held []heldH2Finding
}

// heldH2Finding is a connection-level finding of the HTTP/2 layer from
// before its first WebSocket stream.
type heldH2Finding struct {
	pos    Pos
	from   Direction
	code   Code
	detail string
}

// maxOtherStreams caps the other streams listed by method and path.
const maxOtherStreams = 16

// h2Stream is one WebSocket carried by an HTTP/2 stream.
type h2Stream struct {
	Session
	id         uint32
	answered   bool // the final response was seen
	open       bool // it was 2xx: the DATA is WebSocket
	ended      [2]bool
	pending    []byte // client DATA before the response
	pendingGap int64
}

// startH2 makes the connection's innermost stream an HTTP/2 connection.
// upgraded: it switched from HTTP/1.1 (Upgrade: h2c), stream 1 being the
// request that asked, which httpData entered in the carrier.
func (c *Conn) startH2(p Pos, upgraded bool) {
	h := c.more().h2
	if h == nil {
		h = &h2Carrier{c: c}
		c.h2 = h
	}
	h.pos, h.ws = p, map[uint32]*h2Stream{}
	h.conn = http2.NewConn(h, upgraded)
	c.phase = phaseH2
	if c.proto == ProtoOther {
		c.proto = ProtoHTTP2
	}
	if c.decrypting() != nil {
		c.innerProto = ProtoHTTP2
	}
}

func (h *h2Carrier) data(dir Direction, p Pos, b []byte) {
	h.pos = p
	if h.tentative && !h.confirm(dir == ClientToServer, b) {
		return
	}
	h.conn.Feed(dir == ServerToClient, b)
}

func (h *h2Carrier) gap(dir Direction, p Pos, n int64) {
	h.pos = p
	if h.tentative && !h.confirm(false, nil) {
		return
	}
	h.conn.Gap(dir == ServerToClient, n)
}

// confirm decides a tentative HTTP/2 connection on the client's first
// bytes, as identify decides on a first delivery: HTTP/2 when
// http2.StartsPreface accepts them all. b is more of them (client), or
// something else came (server bytes, a loss, the end), which decides on
// those seen if there are any (a short first delivery of the preface must
// not depend on its segmentation). It reports whether the connection is
// still HTTP/2; if not, the HTTP/2 layer is dropped.
func (h *h2Carrier) confirm(client bool, b []byte) bool {
	if client {
		n := h.prefaceSeen
		k := min(len(b), len(http2.Preface)-n)
		if string(b[:k]) != http2.Preface[n:n+k] {
			h.notH2()
			return false
		}
		h.prefaceSeen += k
		h.tentative = h.prefaceSeen < len(http2.Preface)
		return true
	}
	if h.prefaceSeen == 0 {
		return true // the client has not spoken: still tentative
	}
	h.tentative = false
	if !http2.StartsPreface([]byte(http2.Preface[:h.prefaceSeen])) {
		h.notH2()
		return false
	}
	return true
}

// notH2 drops the HTTP/2 layer of a tentative connection that is not one.
func (h *h2Carrier) notH2() {
	c := h.c
	c.h2, c.phase = nil, phaseDone
	if c.proto == ProtoHTTP2 {
		c.proto = ProtoOther
	}
	if c.innerProto == ProtoHTTP2 {
		c.innerProto = ProtoOther
	}
}

// Headers handles a header block: an extended CONNECT opens a WebSocket
// stream; the answer to one opens or refuses it.
func (h *h2Carrier) Headers(server bool, hb *http2.HeaderBlock) {
	p := h.pos
	if st := h.ws[hb.Stream]; st != nil {
		st.sum.End = p
		if server && !st.answered && hb.Promised == 0 {
			if !hb.Decoded {
				h.finding(st, p, CodeH2Lost, ServerToClient, "the response headers of stream %d could not be decoded; the WebSocket is taken as open", hb.Stream)
				st.hs.Status = 200
				st.answered = true
				h.openStream(st, p)
				return
			}
			h.response(st, p, hb.Fields)
		}
		return // trailers, or a second request block: nothing for the WebSocket
	}
	if hb.Promised != 0 {
		h.otherStream(hb.Promised, "PUSH", hb)
		return
	}
	if server {
		return // the answer to another stream
	}
	if !hb.Decoded {
		h.undecoded++
		return
	}
	var method, protocol string
	for _, f := range hb.Fields {
		switch f.Name {
		case ":method":
			method = f.Value
		case ":protocol":
			protocol = f.Value
		}
	}
	if protocol == "" || !http1.EqualFold(protocol, "websocket") {
		h.otherStream(hb.Stream, method, hb)
		return
	}
	h.request(hb.Stream, p, hb.Fields, method)
}

// otherStream counts a stream that is not a WebSocket.
func (h *h2Carrier) otherStream(id uint32, method string, hb *http2.HeaderBlock) {
	h.others++
	if len(h.other) >= maxOtherStreams {
		return
	}
	path := ""
	for _, f := range hb.Fields {
		switch f.Name {
		case ":path":
			path = f.Value
		case ":protocol":
			method += " :protocol=" + f.Value
		case ":method":
			if method == "PUSH" {
				method = "PUSH " + f.Value
			}
		}
	}
	h.other = append(h.other, strings.TrimSpace(method+" "+path)+" (stream "+strconv.FormatUint(uint64(id), 10)+")")
}

// request opens a WebSocket stream for an extended CONNECT request and
// checks it (RFC 8441 §4, §5; RFC 9113 §8.2, §8.3).
func (h *h2Carrier) request(id uint32, p Pos, fields []hpack.HeaderField, method string) {
	c := h.c
	st := &h2Stream{id: id}
	st.d = c.d
	st.info.Client, st.info.Server, st.info.First = c.info.Client, c.info.Server, c.info.First
	st.info.H2Stream = id
	st.sum.Start, st.sum.End = p, p
	h.ws[id] = st
	h.sessions++
	st.recognise(p)
	for _, hp := range h.held {
		h.finding(st, hp.pos, hp.code, hp.from, "%s", hp.detail)
	}
	h.held = nil

	hs := &st.hs
	hs.Captured = true
	hs.TLS = c.tlsInfo()
	hs.H2 = &H2Handshake{Stream: id, Other: append([]string(nil), h.other...)}
	req := &http1.RequestHead{Method: method, Proto: "HTTP/2", ProtoMajor: 2}
	f := func(code Code, format string, args ...any) {
		h.finding(st, p, code, ClientToServer, format, args...)
	}
	var authority string
	regular := false
	seen := map[string]int{}
	for _, hf := range fields {
		req.Header = append(req.Header, http1.HeaderField{Name: hf.Name, Value: hf.Value})
		checkH2Field("request", hf, f)
		name := hf.Name
		if strings.HasPrefix(name, ":") {
			seen[name]++
			if regular {
				f(CodeH2PseudoHeader, "the pseudo-header field %s follows a regular field (RFC 9113 §8.3)", name)
			}
			switch name {
			case ":method", ":protocol", ":scheme":
			case ":path":
				req.Target = hf.Value
			case ":authority":
				authority = hf.Value
			default:
				f(CodeH2PseudoHeader, "the request has the pseudo-header field %s, which requests do not have (RFC 9113 §8.3.1)", name)
			}
			continue
		}
		regular = true
		if http1.EqualFold(name, "te") && !http1.EqualFold(http1.TrimOWS(hf.Value), "trailers") {
			f(CodeH2HeaderMalformed, "the request's TE field is %q; in HTTP/2 it may only be \"trailers\" (RFC 9113 §8.2.2)", hf.Value)
		}
	}
	for name, n := range seen {
		if n > 1 {
			f(CodeH2PseudoHeader, "the request has %d %s pseudo-header fields (RFC 9113 §8.3)", n, name)
		}
	}
	if method != "CONNECT" {
		f(CodeH2PseudoHeader, "the request has :protocol, but its :method is %q; :protocol belongs to CONNECT only (RFC 8441 §4)", method)
	}
	for _, need := range []string{":scheme", ":path", ":authority"} {
		if seen[need] == 0 {
			f(CodeH2PseudoHeader, "the extended CONNECT request has no %s pseudo-header field (RFC 8441 §4)", need)
		}
	}
	if !h.conn.ConnectProtocol {
		f(CodeH2ConnectNotEnabled, "the client sent :protocol before the server's SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 was seen")
	}
	hs.Request = req
	hs.Method, hs.Path, hs.Host = method, req.Target, authority
	hd := req.Header
	hs.Origin, _ = hd.Get("Origin")
	hs.UserAgent, _ = hd.Get("User-Agent")
	hs.Version, _ = hd.Get("Sec-WebSocket-Version")
	st.info.Host, st.info.Path = hs.Host, hs.Path
	var buf [2]string
	hs.OfferedSubprotocols = ParseTokenList(hd.AppendValues(buf[:0], "Sec-WebSocket-Protocol"))
	if hd.Count("Sec-WebSocket-Key") > 0 {
		f(CodeH2KeyAccept, "the request has Sec-WebSocket-Key, which WebSocket over HTTP/2 does not use")
	}
	switch vs := hd.AppendValues(buf[:0], "Sec-WebSocket-Version"); {
	case len(vs) == 0:
		f(CodeVersionMissing, "the extended CONNECT request has no sec-websocket-version (RFC 8441 §5)")
	case len(vs) > 1 || http1.TrimOWS(vs[0]) != "13":
		f(CodeVersionUnsupported, "sec-websocket-version is %q; it must be 13 (RFC 8441 §5)", strings.Join(vs, ", "))
	}
	if vs := hd.AppendValues(buf[:0], "Sec-WebSocket-Extensions"); len(vs) > 0 {
		exts, err := ParseExtensions(vs)
		hs.OfferedExtensions = exts
		if err != nil {
			f(CodeExtensionMalformed, "the offered sec-websocket-extensions is malformed: %v", err)
		}
	}
}

// response takes the server's answer on a WebSocket stream.
func (h *h2Carrier) response(st *h2Stream, p Pos, fields []hpack.HeaderField) {
	resp := &http1.ResponseHead{Proto: "HTTP/2", ProtoMajor: 2}
	f := func(code Code, format string, args ...any) {
		h.finding(st, p, code, ServerToClient, format, args...)
	}
	statuses := 0
	regular := false
	for _, hf := range fields {
		resp.Header = append(resp.Header, http1.HeaderField{Name: hf.Name, Value: hf.Value})
		checkH2Field("response", hf, f)
		switch {
		case hf.Name == ":status":
			statuses++
			if regular {
				f(CodeH2PseudoHeader, "the pseudo-header field :status follows a regular field (RFC 9113 §8.3)")
			}
			if v := hf.Value; len(v) == 3 && http1.Digits(v) { // 3DIGIT (RFC 9110 §15)
				resp.Status, _ = strconv.Atoi(v)
			} else {
				f(CodeH2PseudoHeader, ":status is %q, not a three-digit code (RFC 9113 §8.3.2)", hf.Value)
			}
		case strings.HasPrefix(hf.Name, ":"):
			f(CodeH2PseudoHeader, "the response has the pseudo-header field %s, which responses do not have (RFC 9113 §8.3.2)", hf.Name)
		default:
			regular = true
		}
	}
	switch {
	case statuses == 0:
		f(CodeH2PseudoHeader, "the response has no :status (RFC 9113 §8.3.2)")
	case statuses > 1:
		f(CodeH2PseudoHeader, "the response has %d :status fields (RFC 9113 §8.3)", statuses)
	}
	if resp.Status >= 100 && resp.Status < 200 {
		return // interim; the final response follows
	}
	st.answered = true
	hs := &st.hs
	hs.Response = resp
	hs.Status = resp.Status
	hs.Server, _ = resp.Header.Get("Server")
	c := h.c
	c.d.holdFindings()
	defer func() {
		st.emitHandshake(p)
		c.d.releaseFindings()
		if st.open {
			h.flushPending(st, p)
		}
	}()
	if resp.Status < 200 || resp.Status > 299 {
		c.d.finding(&st.Session, p, CodeRejected, ServerToClient, "the server answered the extended CONNECT with %d", resp.Status)
		return
	}
	hd := resp.Header
	var buf [2]string
	if hd.Count("Sec-WebSocket-Accept") > 0 {
		f(CodeH2KeyAccept, "the response has Sec-WebSocket-Accept, which WebSocket over HTTP/2 does not use")
	}
	if vs := hd.AppendValues(buf[:0], "Sec-WebSocket-Protocol"); len(vs) > 0 {
		chosen := ParseTokenList(vs)
		hs.Subprotocol = strings.Join(chosen, ", ")
		if len(chosen) != 1 || !slices.Contains(hs.OfferedSubprotocols, chosen[0]) {
			f(CodeSubprotocolNotOffered, "the server chose subprotocol %q; the client offered %q", hs.Subprotocol, strings.Join(hs.OfferedSubprotocols, ", "))
		}
	}
	if vs := hd.AppendValues(buf[:0], "Sec-WebSocket-Extensions"); len(vs) > 0 {
		exts, err := ParseExtensions(vs)
		hs.Extensions = exts
		if err != nil {
			f(CodeExtensionMalformed, "the accepted sec-websocket-extensions is malformed: %v", err)
		}
		st.checkExtensions(p, false)
	}
	st.start()
}

// checkH2Field reports what RFC 9113 §8.2 forbids in a field of a request
// or response: an upper-case name, a connection-specific field (no
// pseudo-header field is one).
func checkH2Field(what string, hf hpack.HeaderField, f func(Code, string, ...any)) {
	if hf.Name != http1.LowerASCII(hf.Name) {
		f(CodeH2HeaderMalformed, "the %s's field name %q has upper-case letters (RFC 9113 §8.2.1)", what, hf.Name)
	}
	switch http1.LowerASCII(hf.Name) {
	case "connection", "upgrade", "keep-alive", "proxy-connection", "transfer-encoding":
		f(CodeH2HeaderMalformed, "the %s has the connection-specific field %s, which HTTP/2 does not carry (RFC 9113 §8.2.2)", what, hf.Name)
	}
}

// start makes the stream's DATA the WebSocket's byte streams.
func (st *h2Stream) start() {
	st.open = true
	st.dirs[ClientToServer].startFrames(&st.Session, ClientToServer)
	st.dirs[ServerToClient].startFrames(&st.Session, ServerToClient)
}

// openStream opens a stream whose answer could not be read.
func (h *h2Carrier) openStream(st *h2Stream, p Pos) {
	st.emitHandshake(p)
	st.start()
	h.flushPending(st, p)
}

// flushPending feeds the client DATA sent before the answer.
func (h *h2Carrier) flushPending(st *h2Stream, p Pos) {
	if len(st.pending) == 0 && st.pendingGap == 0 {
		return
	}
	h.finding(st, p, CodeDataBefore101, ClientToServer, "the client sent %d bytes on stream %d before the server's response", int64(len(st.pending))+st.pendingGap, st.id)
	pend := st.pending
	st.pending = nil
	st.feed(ClientToServer, p, pend)
	if st.pendingGap > 0 {
		st.dirs[ClientToServer].gap(&st.Session, ClientToServer, p, st.pendingGap)
	}
}

// Data feeds a WebSocket stream's DATA to its session.
func (h *h2Carrier) Data(server bool, id uint32, b []byte) {
	st := h.ws[id]
	if st == nil {
		return
	}
	p := h.pos
	st.sum.End = p
	dir := sideDir(server)
	switch {
	case st.open:
		st.feed(dir, p, b)
	case !st.answered && dir == ClientToServer:
		st.pending = holdPending(st.pending, &st.pendingGap, b)
	}
}

// End: a direction of a WebSocket stream ended (END_STREAM), like a TCP
// FIN; when both have, the WebSocket has.
func (h *h2Carrier) End(server bool, id uint32) {
	st := h.ws[id]
	if st == nil {
		return
	}
	st.sum.End = h.pos
	st.ended[side(server)] = true
	if st.ended[0] && st.ended[1] || !st.open && server {
		h.endStream(st, h.pos, EndFIN)
	}
}

// Reset ends a WebSocket stream abruptly (RST_STREAM).
func (h *h2Carrier) Reset(server bool, id uint32, code http2.ErrCode) {
	st := h.ws[id]
	if st == nil {
		return
	}
	p := h.pos
	st.sum.End = p
	from := sideDir(server)
	for d := ClientToServer; d <= ServerToClient; d++ {
		if st.open && st.dirs[d].frames.midFrame() {
			h.finding(st, p, CodeH2ResetMidFrame, from, "the %s reset stream %d (%s) in the middle of a WebSocket frame from the %s", from, id, code, d)
		}
	}
	h.endStream(st, p, EndRST)
}

// Lost: DATA bytes of a stream (or of unknown streams) were not captured.
func (h *h2Carrier) Lost(server bool, id uint32, n int64) {
	p := h.pos
	dir := sideDir(server)
	if id != 0 {
		if st := h.ws[id]; st != nil {
			st.sum.End = p
			h.lose(st, dir, p, n, "%d bytes of stream %d from the %s were not captured", n, id, dir)
		}
		return
	}
	for _, st := range h.sorted() {
		h.lose(st, dir, p, 1<<40, "an unknown number of bytes of the HTTP/2 connection from the %s were not captured; this stream's share of them is unknown", dir)
	}
}

func (h *h2Carrier) lose(st *h2Stream, dir Direction, p Pos, n int64, format string, args ...any) {
	h.finding(st, p, CodeGap, dir, format, args...)
	switch {
	case st.open:
		st.dirs[dir].gap(&st.Session, dir, p, n)
	case dir == ClientToServer:
		st.pendingGap += n
	}
}

// Problem reports what the HTTP/2 layer found: on the WebSocket stream it
// is about, or, about the connection or another stream, on every open
// WebSocket stream of the connection (held for the first one when none is
// open yet).
func (h *h2Carrier) Problem(server bool, id uint32, kind http2.Problem, detail string) {
	p := h.pos
	from := sideDir(server)
	code := CodeH2Malformed
	switch kind {
	case http2.ProblemStreamState:
		code = CodeH2StreamState
	case http2.ProblemHPACK:
		code = CodeH2HPACK
	case http2.ProblemHeaderList:
		code = CodeH2HeaderList
	case http2.ProblemLoss:
		code = CodeH2Lost
	case http2.ProblemConnect:
		code = CodeH2ConnectSetting
	}
	if st := h.ws[id]; st != nil && id != 0 {
		h.finding(st, p, code, from, "%s", detail)
		return
	}
	open := h.sorted()
	if len(open) == 0 {
		if len(h.held) < maxHeldProblems {
			h.held = append(h.held, heldH2Finding{p, from, code, detail})
		}
		return
	}
	for _, st := range open {
		h.finding(st, p, code, from, "%s", detail)
	}
}

func (h *h2Carrier) finding(st *h2Stream, p Pos, code Code, from Direction, format string, args ...any) {
	h.c.d.finding(&st.Session, p, code, from, format, args...)
}

// sorted returns the open WebSocket streams by stream id, so that what is
// reported on several comes in a fixed order.
func (h *h2Carrier) sorted() []*h2Stream {
	if len(h.ws) == 0 {
		return nil
	}
	return slices.SortedFunc(maps.Values(h.ws), func(a, b *h2Stream) int { return cmp.Compare(a.id, b.id) })
}

// endStream ends a WebSocket stream's session and forgets the stream.
func (h *h2Carrier) endStream(st *h2Stream, p Pos, reason EndReason) {
	delete(h.ws, st.id)
	if !st.answered && !st.hsSent {
		h.finding(st, p, CodeNoResponse, ServerToClient, "stream %d ended before the server answered the extended CONNECT", st.id)
		st.emitHandshake(p)
	}
	st.sum.Duration = max(0, st.sum.End.TS.Sub(st.sum.Start.TS))
	cs := &h.c.d.census
	if st.open {
		cs.H2WebSockets++
	} else {
		cs.Rejected++
	}
	st.Session.end(p, reason, st.open)
}

// end ends every WebSocket stream still open when the TCP connection does.
func (h *h2Carrier) end(p Pos, reason EndReason) {
	if h.conn == nil {
		return // an Upgrade: h2c that was not answered
	}
	h.pos = p
	if h.tentative && !h.confirm(false, nil) {
		return
	}
	h.conn.Close()
	for _, st := range h.sorted() {
		h.endStream(st, p, reason)
	}
}

func side(server bool) int {
	if server {
		return 1
	}
	return 0
}
