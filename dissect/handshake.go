package dissect

import (
	"crypto/sha1"
	"encoding/base64"
	"slices"
	"strings"

	"github.com/wscap/wscap/dissect/http1"
)

// compact drops what the handshake record needed but the connection no
// longer does: the heads and everything pointing into them. The fields a
// connection record reports are copied out of the heads, which are then
// freed: an open connection costs a few hundred bytes less.
func (hs *Handshake) compact() {
	hs.Request, hs.Response = nil, nil
	hs.Origin, hs.UserAgent, hs.Server, hs.Key, hs.Accept, hs.ExpectedAccept, hs.Version = "", "", "", "", "", "", ""
	hs.OfferedSubprotocols, hs.OfferedExtensions = nil, nil
	if hs.H2 != nil {
		hs.H2.Other = nil
	}
	// The strings kept are copied into one allocation, so that they cost
	// one object, and the cache lines of one, when the connection's record
	// is written at its end.
	n, params := len(hs.Method)+len(hs.Path)+len(hs.Host)+len(hs.Subprotocol), 0
	for _, e := range hs.Extensions {
		n += len(e.Name)
		for _, p := range e.Params {
			n += len(p.Name) + len(p.Value)
			params++
		}
	}
	var sb strings.Builder
	sb.Grow(n)
	sb.WriteString(hs.Method)
	sb.WriteString(hs.Path)
	sb.WriteString(hs.Host)
	sb.WriteString(hs.Subprotocol)
	for _, e := range hs.Extensions {
		sb.WriteString(e.Name)
		for _, p := range e.Params {
			sb.WriteString(p.Name)
			sb.WriteString(p.Value)
		}
	}
	// The same strings again, in the same order, now taken from the copy.
	all := sb.String()
	take := func(s string) string {
		s, all = all[:len(s)], all[len(s):]
		return s
	}
	hs.Method, hs.Path, hs.Host, hs.Subprotocol = take(hs.Method), take(hs.Path), take(hs.Host), take(hs.Subprotocol)
	if len(hs.Extensions) == 0 {
		hs.Extensions = nil
		return
	}
	exts := make([]Extension, len(hs.Extensions))
	ps := make([]ExtensionParam, 0, params)
	for i, e := range hs.Extensions {
		exts[i].Name = take(e.Name)
		first := len(ps)
		for _, p := range e.Params {
			ps = append(ps, ExtensionParam{Name: take(p.Name), Value: take(p.Value), HasValue: p.HasValue})
		}
		if len(ps) > first {
			exts[i].Params = ps[first:len(ps):len(ps)]
		}
	}
	hs.Extensions = exts
}

// checkRequest records the opening handshake request and reports every rule
// of RFC 6455 §4.1 it breaks.
func (c *Conn) checkRequest(p Pos, req *http1.RequestHead) {
	hs := &c.hs
	hs.Request = req
	hs.TLS = c.tlsInfo()
	h := req.Header
	hs.Method = req.Method
	hs.Path = req.Target
	hs.Host, _ = h.Get("Host")
	hs.Origin, _ = h.Get("Origin")
	hs.UserAgent, _ = h.Get("User-Agent")
	hs.Key, _ = h.Get("Sec-WebSocket-Key")
	hs.Version, _ = h.Get("Sec-WebSocket-Version")
	var buf [2]string // reused by each field lookup below: nothing keeps the slices
	hs.OfferedSubprotocols = ParseTokenList(h.AppendValues(buf[:0], "Sec-WebSocket-Protocol"))
	c.info.Host, c.info.Path = hs.Host, hs.Path

	f := func(code Code, format string, args ...any) {
		c.d.finding(&c.Session, p, code, ClientToServer, format, args...)
	}
	if req.Method != "GET" {
		f(CodeMethodNotGet, "the handshake request method is %q, not GET", req.Method)
	}
	if req.ObsFold {
		f(CodeObsFold, "the handshake request continues header field values on following lines (obs-fold), which a sender must not do and a recipient must reject or replace with spaces; wscap joined them with spaces")
	}
	if req.ProtoMajor < 1 || (req.ProtoMajor == 1 && req.ProtoMinor < 1) {
		f(CodeHTTPVersion, "the handshake request uses %s; HTTP/1.1 or later is required", req.Proto)
	}
	// A head cut by the snapshot length is checked for what it shows.
	cut := c.reqCut
	if h.Count("Host") == 0 && !cut {
		f(CodeHostMissing, "the handshake request has no Host header")
	}
	if !h.HasToken("Upgrade", "websocket") && !(cut && h.Count("Upgrade") == 0) {
		v, _ := h.Get("Upgrade")
		f(CodeUpgradeMissing, "the request's Upgrade header is %q; it must contain the token websocket", v)
	}
	if !h.HasToken("Connection", "Upgrade") && !(cut && h.Count("Connection") == 0) {
		v, _ := h.Get("Connection")
		f(CodeConnectionMissing, "the request's Connection header is %q; it must contain the token Upgrade", v)
	}
	switch n := h.Count("Sec-WebSocket-Key"); {
	case n == 0 && cut:
	case n == 0:
		f(CodeKeyMissing, "the handshake request has no Sec-WebSocket-Key")
	case n > 1:
		f(CodeKeyDuplicate, "the handshake request has %d Sec-WebSocket-Key headers", n)
	case !ValidKey(hs.Key):
		f(CodeKeyInvalid, "Sec-WebSocket-Key %q is not the base64 encoding of 16 bytes", hs.Key)
	}
	switch vs := h.AppendValues(buf[:0], "Sec-WebSocket-Version"); {
	case len(vs) == 0 && cut:
	case len(vs) == 0:
		f(CodeVersionMissing, "the handshake request has no Sec-WebSocket-Version")
	case len(vs) > 1 || vs[0] != "13": // the parser trimmed OWS; a no-break space is no OWS
		f(CodeVersionUnsupported, "Sec-WebSocket-Version is %q; it must be 13", strings.Join(vs, ", "))
	}
	if vs := h.AppendValues(buf[:0], "Sec-WebSocket-Extensions"); len(vs) > 0 {
		exts, err := ParseExtensions(vs)
		hs.OfferedExtensions = exts
		if err != nil {
			f(CodeExtensionMalformed, "the offered Sec-WebSocket-Extensions is malformed: %v", err)
		}
	}
	if hs.Key != "" {
		hs.ExpectedAccept = ComputeAccept(hs.Key)
	}
}

// checkResponse records the server's answer and reports every rule of RFC
// 6455 §4.2.2 and RFC 7692 §7.1 it breaks.
func (c *Conn) checkResponse(p Pos, resp *http1.ResponseHead) {
	hs := &c.hs
	hs.Response = resp
	hs.Status = resp.Status
	h := resp.Header
	hs.Server, _ = h.Get("Server")
	f := func(code Code, format string, args ...any) {
		c.d.finding(&c.Session, p, code, ServerToClient, format, args...)
	}
	if resp.ObsFold {
		f(CodeObsFold, "the handshake response continues header field values on following lines (obs-fold), which a sender must not do and a recipient must reject or replace with spaces; wscap joined them with spaces")
	}
	if resp.Status != 101 {
		detail := ""
		if resp.Status == 426 {
			if v, ok := h.Get("Sec-WebSocket-Version"); ok {
				detail = "; the server supports Sec-WebSocket-Version " + v
			}
		}
		c.d.finding(&c.Session, p, CodeRejected, ServerToClient, "the server answered the upgrade with %d %s%s", resp.Status, resp.Reason, detail)
		return
	}
	cut := c.respCut
	if !h.HasToken("Upgrade", "websocket") && !(cut && h.Count("Upgrade") == 0) {
		v, _ := h.Get("Upgrade")
		f(CodeResponseUpgrade, "the 101 response's Upgrade header is %q; it must contain websocket", v)
	}
	if !h.HasToken("Connection", "Upgrade") && !(cut && h.Count("Connection") == 0) {
		v, _ := h.Get("Connection")
		f(CodeResponseConnection, "the 101 response's Connection header is %q; it must contain Upgrade", v)
	}
	var buf [2]string // reused by each field lookup below: nothing keeps the slices
	accepts := h.AppendValues(buf[:0], "Sec-WebSocket-Accept")
	switch {
	case len(accepts) == 0 && cut:
		hs.AcceptUnchecked = true
	case len(accepts) == 0:
		f(CodeAcceptMissing, "the 101 response has no Sec-WebSocket-Accept")
	case len(accepts) > 1:
		f(CodeAcceptDuplicate, "the 101 response has %d Sec-WebSocket-Accept headers", len(accepts))
		hs.Accept = accepts[0]
	default:
		// The parser trimmed OWS (RFC 9110 §5.5); anything else around
		// the value (a no-break space) makes it another value, as it
		// does to a client comparing it (RFC 6455 §4.1 item 4).
		hs.Accept = accepts[0]
		hs.AcceptValid = hs.Key != "" && hs.Accept == hs.ExpectedAccept
		hs.AcceptUnchecked = !hs.AcceptValid && hs.Key == "" && c.reqCut
		if !hs.AcceptValid && !hs.AcceptUnchecked {
			if hs.Key == "" {
				f(CodeAcceptMismatch, "Sec-WebSocket-Accept is %s, but the request had no key to check it against", hs.Accept)
			} else {
				f(CodeAcceptMismatch, "Sec-WebSocket-Accept is %s, expected %s", hs.Accept, hs.ExpectedAccept)
			}
		}
	}
	if vs := h.AppendValues(buf[:0], "Sec-WebSocket-Protocol"); len(vs) > 0 {
		chosen := ParseTokenList(vs)
		hs.Subprotocol = strings.Join(chosen, ", ")
		if len(chosen) != 1 || !slices.Contains(hs.OfferedSubprotocols, chosen[0]) && !c.reqCut {
			f(CodeSubprotocolNotOffered, "the server chose subprotocol %q; the client offered %q", hs.Subprotocol, strings.Join(hs.OfferedSubprotocols, ", "))
		}
	}
	if vs := h.AppendValues(buf[:0], "Sec-WebSocket-Extensions"); len(vs) > 0 {
		exts, err := ParseExtensions(vs)
		hs.Extensions = exts
		if err != nil {
			f(CodeExtensionMalformed, "the accepted Sec-WebSocket-Extensions is malformed: %v", err)
		}
		c.Session.checkExtensions(p, c.reqCut)
	} else if cut {
		// The extensions were not captured: RSV1 on a data message is taken
		// for permessage-deflate (with context takeover and the largest
		// window, which inflates whatever was negotiated); the history is
		// known, since the connection was seen from its start.
		c.deflate = deflateParams{on: true, bits: [2]int{15, 15}}
	}
}

// checkExtensions matches the accepted extensions with the offered ones and
// sets up permessage-deflate (RFC 7692 §7.1).
func (c *Session) checkExtensions(p Pos, reqCut bool) {
	hs := &c.hs
	f := func(code Code, format string, args ...any) {
		c.d.finding(c, p, code, ServerToClient, format, args...)
	}
	var rsvUsed uint8
	for i, e := range hs.Extensions {
		var offers []Extension
		for _, o := range hs.OfferedExtensions {
			if http1.EqualFold(o.Name, e.Name) {
				offers = append(offers, o)
			}
		}
		if len(offers) == 0 && reqCut {
			offers = []Extension{e} // the offer was not captured
		}
		if len(offers) == 0 {
			f(CodeExtensionNotOffered, "the server accepted extension %q, which the client did not offer", e.Name)
		}
		switch http1.LowerASCII(e.Name) {
		case "permessage-deflate", "x-webkit-deflate-frame":
			if rsvUsed&4 != 0 {
				f(CodeExtensionMalformed, "extension %q uses RSV1, which extension %q already took", e.Name, hs.Extensions[i-1].Name)
				continue
			}
			rsvUsed |= 4
			if http1.EqualFold(e.Name, "x-webkit-deflate-frame") {
				c.deflate = deflateParams{on: true, perFrame: true, bits: [2]int{15, 15}}
				continue
			}
			c.deflate = negotiateDeflate(e, offers, func(code Code, format string, args ...any) { f(code, format, args...) })
		}
	}
}

// headWebSocketGUID is the GUID appended to Sec-WebSocket-Key (RFC 6455 §1.3).
const headWebSocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// ComputeAccept returns the Sec-WebSocket-Accept value for a
// Sec-WebSocket-Key: base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
// (RFC 6455 §1.3, §4.2.2 item 5.4). key is used as given, not trimmed or
// decoded.
func ComputeAccept(key string) string {
	var buf [24 + len(headWebSocketGUID)]byte // a valid key's length: no allocation
	sum := sha1.Sum(append(append(buf[:0], key...), headWebSocketGUID...))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// ValidKey reports whether key is the base64 encoding (RFC 4648 §4, with
// padding) of exactly 16 bytes, as RFC 6455 §4.1 item 7 and §4.2.1 item 5
// require of Sec-WebSocket-Key: 24 characters ending in "==". Like the common
// Go implementations (gorilla/websocket, coder/websocket) it accepts non-zero
// padding bits (RFC 4648 §3.5 lets decoders do so).
func ValidKey(key string) bool {
	if len(key) != 24 || key[22:] != "==" {
		return false
	}
	for i := 0; i < 22; i++ {
		c := key[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}
