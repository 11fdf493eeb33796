package dissect

import (
	"bytes"
	"slices"

	"github.com/wscap/wscap/dissect/http1"
	"github.com/wscap/wscap/dissect/http2"
	"github.com/wscap/wscap/dissect/tls"
)

// Protocol is what a TCP connection carried, as far as wscap tells.
type Protocol uint8

// The protocols a connection is identified as. A connection that opened a
// WebSocket is ProtoWebSocket; one whose upgrade was refused, and any
// other HTTP/1.x connection, is ProtoHTTP.
const (
	ProtoOther Protocol = iota
	ProtoWebSocket
	ProtoTLS
	ProtoHTTP
	ProtoHTTP2
	NumProtocols
)

var protocolNames = [...]string{ProtoOther: "other", ProtoWebSocket: "websocket", ProtoTLS: "tls", ProtoHTTP: "http", ProtoHTTP2: "http2"}

func (p Protocol) String() string {
	if p < NumProtocols {
		return protocolNames[p]
	}
	return "protocol?"
}

// MaxServerNames caps the distinct TLS server names a Census keeps.
const MaxServerNames = 1000

// Census counts the TCP connections a Dissector ended by what they
// carried: the protocols, the upgrade requests that did not open a
// WebSocket, and the server names of the TLS connections.
type Census struct {
	Protocols [NumProtocols]int64
	// Rejected counts the connections whose WebSocket upgrade request did
	// not open one: refused (a status other than 101), unanswered or
	// malformed. They count as ProtoHTTP.
	Rejected int64
	// ServerNames counts TLS connections by SNI; a name beyond
	// MaxServerNames distinct ones counts in MoreNames, a connection
	// without one in NoName.
	ServerNames map[string]int64
	MoreNames   int64
	NoName      int64
	// With a key log: the TLS connections decrypted, those the key log had
	// no secret for, and the first few of their client randoms (hex: what
	// to look for in the key log).
	TLSDecrypted int64
	TLSNoKey     int64
	NoKeyRandoms []string
	// What the TLS connections' hellos chose, in clear text: the
	// version, the cipher suite and the application protocol (ALPN: the
	// server's choice when visible, else the client's first offer), each
	// counted by name (at most maxTLSNames names each).
	TLSVersions, TLSCipherSuites, TLSALPN map[string]int64
	// WebSockets over HTTP/2 (RFC 8441): the streams that opened one (each
	// a WebSocket connection in the views; their TCP connection counts as
	// ProtoHTTP2 or ProtoTLS) and the other streams. The extended
	// CONNECTs refused or unanswered count in Rejected.
	H2WebSockets, H2OtherStreams int64
	// H2Undecoded counts the streams whose request headers could not be
	// decoded (the sender's HPACK state was lost): whether they were
	// WebSockets is unknown.
	H2Undecoded int64
	// Findings counts the findings reported, by code.
	Findings map[Code]int64
}

// maxTLSNames caps the distinct names of each TLS count.
const maxTLSNames = 64

// countName adds n to m[name], creating m; names past maxTLSNames are
// counted as "(more)".
func countName(m *map[string]int64, name string, n int64) {
	if *m == nil {
		*m = map[string]int64{}
	}
	if _, ok := (*m)[name]; !ok && len(*m) >= maxTLSNames {
		name = "(more)"
	}
	(*m)[name] += n
}

// Add adds o's counts to c.
func (c *Census) Add(o *Census) {
	for i, n := range o.Protocols {
		c.Protocols[i] += n
	}
	c.Rejected += o.Rejected
	c.H2WebSockets += o.H2WebSockets
	c.H2OtherStreams += o.H2OtherStreams
	c.H2Undecoded += o.H2Undecoded
	c.TLSDecrypted += o.TLSDecrypted
	for code, n := range o.Findings {
		if c.Findings == nil {
			c.Findings = map[Code]int64{}
		}
		c.Findings[code] += n
	}
	for name, n := range o.TLSVersions {
		countName(&c.TLSVersions, name, n)
	}
	for name, n := range o.TLSCipherSuites {
		countName(&c.TLSCipherSuites, name, n)
	}
	for name, n := range o.TLSALPN {
		countName(&c.TLSALPN, name, n)
	}
	c.TLSNoKey += o.TLSNoKey
	for _, r := range o.NoKeyRandoms {
		if len(c.NoKeyRandoms) < maxNoKeyRandoms {
			c.NoKeyRandoms = append(c.NoKeyRandoms, r)
		}
	}
	c.MoreNames += o.MoreNames
	c.NoName += o.NoName
	for name, n := range o.ServerNames {
		c.addName(name, n)
	}
}

func (c *Census) addName(name string, n int64) {
	if name == "" {
		c.NoName += n
		return
	}
	if _, ok := c.ServerNames[name]; !ok && len(c.ServerNames) >= MaxServerNames {
		c.MoreNames += n
		return
	}
	if c.ServerNames == nil {
		c.ServerNames = map[string]int64{}
	}
	c.ServerNames[name] += n
}

// Census returns the counts of the connections ended so far.
func (d *Dissector) Census() *Census { return &d.census }

// count enters the ended connection c in the census.
func (c *Conn) count() {
	cs := &c.d.census
	p := c.proto
	var m connMore
	if c.connMore != nil {
		m = *c.connMore
	}
	cs.Rejected += m.rejected
	switch {
	case c.wsOpen:
		p = ProtoWebSocket
	case c.known || m.sessions > 0:
		p = ProtoHTTP
	case p == ProtoOther && (c.dirs[0].sawHTTP || c.dirs[1].sawHTTP):
		p = ProtoHTTP
	}
	cs.Protocols[p]++
	if h := m.h2; h != nil {
		cs.H2OtherStreams += h.others
		cs.H2Undecoded += h.undecoded
	}
	if m.sess != nil {
		c.countTLS(cs)
	}
	var hello *tls.Hello
	if m.sess != nil {
		hello = &m.sess.Hello
	}
	if p == ProtoTLS {
		name := ""
		if hello != nil {
			name = hello.ServerName
		}
		cs.addName(name, 1)
	}
	if hello != nil {
		if hello.Version != 0 {
			countName(&cs.TLSVersions, tls.VersionName(hello.Version), 1)
			countName(&cs.TLSCipherSuites, tls.CipherSuiteName(hello.CipherSuite), 1)
		}
		switch {
		case hello.ALPNChosen != "":
			countName(&cs.TLSALPN, hello.ALPNChosen, 1)
		case len(hello.ALPN) > 0:
			countName(&cs.TLSALPN, hello.ALPN[0]+" (offered)", 1)
		}
	}
}

// identify names what a connection carries whose first bytes, b from dir,
// are not an HTTP/1.x request. A connection whose beginning was captured
// is never probed for WebSocket frames: its first bytes say what it is.
// One picked up mid-stream is, unless its bytes are TLS records or HTTP/2
// frames.
func (c *Conn) identify(dir Direction, p Pos, b []byte) {
	if c.decrypting() != nil {
		// The plaintext of a decrypted TLS connection that is not HTTP/1.x:
		// HTTP/2 (ALPN h2), or another protocol, not decoded further.
		switch {
		case dir == ClientToServer && http2.StartsPreface(b):
			c.startH2(p, false)
			c.h2.data(dir, p, b)
		case dir == ServerToClient && http2.StartsSettings(b) && slices.Contains(c.sess.Hello.ALPN, "h2"):
			// The server's preface first (TLS 1.3 servers may send before
			// the client's Finished); HTTP/2 if the client's is next.
			c.startH2(p, false)
			c.h2.tentative = true
			c.h2.data(dir, p, b)
		default:
			c.phase = phaseDone
		}
		return
	}
	if _, ok := c.forcedServer(); ok {
		c.phase = phaseProbe
		c.probeData(c.mapDir(dir), p, b) // back to the caller's direction: mapDir is its own inverse
		return
	}
	switch {
	case tls.StartsHello(b) && c.decrypting() == nil:
		c.proto = ProtoTLS
		if len(b) > tls.RecordHeaderLen && (b[tls.RecordHeaderLen] == 1) != (dir == ClientToServer) {
			c.swap() // the ClientHello comes from the client
			dir = dir.Reverse()
		}
		c.startTLS(p, dir, b) // with no key log it reads the hellos and stops
		return
	case dir == ClientToServer && http2.StartsPreface(b):
		c.startH2(p, false) // prior knowledge (RFC 9113 §3.3)
		c.h2.data(dir, p, b)
		return
	case dir == ServerToClient && http2.StartsSettings(b) && c.opened:
		// A server that sends its preface before the client's arrived:
		// HTTP/2 if the client's first bytes are its preface.
		c.startH2(p, false)
		c.h2.tentative = true
		c.h2.data(dir, p, b)
		return
	case bytes.HasPrefix(b, []byte(upgradeAnswer)) && !c.opened:
		// The answer to an upgrade request that was not captured: the
		// response decides (see tentative).
		if dir == ClientToServer {
			c.swap()
		}
		c.more().maybeReq, c.noReq = &http1.RequestHead{}, true
		c.phase = phaseAwait101
		c.responseData(p, b)
		return
	case bytes.HasPrefix(b, []byte("HTTP/")):
		c.proto = ProtoHTTP // a response first: an HTTP connection picked up mid-stream
	case c.opened:
		// ProtoOther
	case tls.RecordChain(b) && c.d.opts.KeyLog != nil && c.decrypting() == nil:
		c.startTLSMidstream(p, dir, b)
		return
	case tls.RecordChain(b):
		c.proto = ProtoTLS
	case http2.FrameChain(b):
		c.proto = ProtoHTTP2
	default:
		c.phase = phaseProbe
		c.probeData(c.mapDir(dir), p, b)
		return
	}
	c.phase = phaseDone
}

// A short first delivery may only begin what identify tells apart: "HT"
// begins a request line as well as "HTTP/1.1 101 ", and "\x16\x03\x01"
// a ClientHello as well as a ServerHello. Such bytes (undecided) are kept
// in their direction's head buffer (dirState.http, empty until a request
// line is seen) and joined to the direction's next bytes: identification
// decides on the joined bytes, at the packet that completed them, as it
// would have on one delivery. When anything else comes first (bytes from
// the other direction, a loss, the end) it decides on what is kept
// (settle), and the kept bytes go to the layer it chose as a first
// delivery would. A first delivery of maxUndecided bytes or more is
// decided at once.

// maxUndecided bounds the first bytes kept undecided: the longest
// signature is a method (http1.MaxMethodLen) and its SP.
const maxUndecided = http1.MaxMethodLen + 1

// upgradeAnswer begins the answer to an upgrade whose request was not
// captured (identify).
const upgradeAnswer = "HTTP/1.1 101 "

// undecided reports whether b, the first bytes from dir of a connection
// not yet identified, is shorter than what identify needs to judge it as
// it would judge a longer delivery that b begins: a request method and its
// SP (http1.InMethod), upgradeAnswer, the HTTP/2 client preface (RFC 9113
// §3.4), a TLS record header and the handshake type after it (RFC 8446
// §5.1), and from the server a SETTINGS frame header (RFC 9113 §3.4).
func undecided(dir Direction, b []byte) bool {
	if len(b) >= maxUndecided {
		return false
	}
	return http1.InMethod(b) || beginsOf(b, upgradeAnswer) || beginsOf(b, http2.Preface) ||
		len(b) <= tls.RecordHeaderLen && tls.StartsHello(b) ||
		dir == ServerToClient && len(b) < http2.FrameHeaderLen && beginsSettings(b)
}

// beginsOf reports whether b is a proper prefix of s.
func beginsOf(b []byte, s string) bool {
	return len(b) < len(s) && string(b) == s[:len(b)]
}

// beginsSettings reports whether b, shorter than a frame header, begins
// one that http2.StartsSettings accepts: the bytes it lacks can be those
// of an empty SETTINGS frame.
func beginsSettings(b []byte) bool {
	h := [http2.FrameHeaderLen]byte{3: 4} // length 0, type SETTINGS, no flags, stream 0
	copy(h[:], b)
	return http2.StartsSettings(h[:])
}

// heldFirst returns the direction whose first bytes are kept undecided, if
// one's are.
func (c *Conn) heldFirst() (Direction, bool) {
	if c.phase != phaseHTTP || c.dirs[ClientToServer].sawHTTP {
		return 0, false
	}
	for d := ClientToServer; d <= ServerToClient; d++ {
		if len(c.dirs[d].http) > 0 {
			return d, true
		}
	}
	return 0, false
}

// settle decides on the first bytes kept undecided, at p: something other
// than more of them came first. Deciding may start TLS, whose plaintext
// may hold first bytes of its own: those are settled too.
func (c *Conn) settle(p Pos) {
	for {
		d, ok := c.heldFirst()
		if !ok {
			return
		}
		s := &c.dirs[d]
		b := s.http
		s.http = nil
		c.requests(d, p, b)
	}
}

// settleOther is settle before bytes from dir: the other direction's kept
// first bytes came before them.
func (c *Conn) settleOther(dir Direction, p Pos) {
	if d, ok := c.heldFirst(); ok && d != dir {
		c.settle(p)
	}
}
