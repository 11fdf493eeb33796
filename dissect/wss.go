package dissect

import (
	"github.com/wscap/wscap/dissect/tls"
)

// wss://: a TLS connection decrypted with the secrets of a key log
// (Options.KeyLog). Its plaintext takes the path of a TCP stream's bytes
// (plainData): HTTP/1.1, the upgrade, the WebSocket. What goes wrong in
// the TLS layer is a finding of the WebSocket connection once it is one;
// before that (no key, say) it is held, and counted in the census.

// TLSInfo is what the TLS layer of a wss:// connection said.
type TLSInfo struct {
	Version     string // "TLS 1.3"
	CipherSuite string // IANA name
	SNI         string
	ALPN        string // the protocol chosen when visible, else those offered
	Resumed     bool
	Decrypted   bool
}

// heldProblem is a TLS problem of a connection not (yet) numbered.
type heldProblem struct {
	pos    Pos
	from   Direction
	kind   tls.Problem
	detail string
}

// maxHeldProblems caps the problems held before a connection is numbered.
const maxHeldProblems = 8

// tlsUp is the tls.Handler of a Conn: the plaintext goes up the layers.
type tlsUp struct{ c *Conn }

func (u tlsUp) AppData(server bool, b []byte) {
	c := u.c
	if c.phase == phaseDone {
		return
	}
	if c.phase == phaseHTTP {
		c.settleOther(c.tlsDir(server), c.tlsPos) // kept first plaintext came first (identify.go)
	}
	c.plainData(c.tlsDir(server), c.tlsPos, b)
}

func (u tlsUp) Lost(server bool, n int64) {
	c := u.c
	if c.phase == phaseDone || n <= 0 {
		return
	}
	if c.phase == phaseHTTP {
		c.settle(c.tlsPos)
	}
	c.plainGap(c.tlsDir(server), c.tlsPos, n, false)
}

func (u tlsUp) Problem(server bool, kind tls.Problem, detail string) {
	c := u.c
	switch kind {
	case tls.ProblemLoss:
		return // the gap it causes is reported by the layer above
	case tls.ProblemNoKey:
		c.d.census.TLSNoKey++
		if len(c.d.census.NoKeyRandoms) < maxNoKeyRandoms && c.sess.ClientRandom() != "" {
			c.d.census.NoKeyRandoms = append(c.d.census.NoKeyRandoms, c.sess.ClientRandom())
		}
	}
	from := c.tlsDir(server)
	if c.known {
		c.tlsFinding(c.tlsPos, from, kind, detail)
		return
	}
	if len(c.tlsHeld) < maxHeldProblems {
		c.tlsHeld = append(c.tlsHeld, heldProblem{c.tlsPos, from, kind, detail})
	}
}

// tlsDir is the connection's direction of the TLS layer's side; tlsServer
// the side of a direction.
func (c *Conn) tlsDir(server bool) Direction {
	d := sideDir(server)
	if c.swapped != c.tlsSwapped {
		d = d.Reverse()
	}
	return d
}

func (c *Conn) tlsServer(dir Direction) bool {
	if c.swapped != c.tlsSwapped {
		dir = dir.Reverse()
	}
	return dir == ServerToClient
}

func sideDir(server bool) Direction {
	if server {
		return ServerToClient
	}
	return ClientToServer
}

// startTLS begins decrypting a connection whose first bytes, b from dir,
// are a TLS hello.
func (c *Conn) startTLS(p Pos, dir Direction, b []byte) {
	c.more().sess = tls.NewSession(c.d.opts.KeyLog, tlsUp{c})
	c.more().sess.Scratch = &c.d.tlsScratch
	c.sess.Wait = c.d.opts.KeyLogGrows
	if c.d.opts.RoundLag > 0 {
		c.sess.Rounds = &c.d.rounds
	}
	c.tlsSwapped = c.swapped
	c.opened = true // the plaintext is seen from its first byte
	c.phase = phaseHTTP
	c.tlsPos = p
	c.sess.Feed(dir == ServerToClient, b)
}

// startTLSMidstream begins decrypting a connection picked up after its
// TLS handshake, whose first bytes, b from dir, are TLS records: the key
// log's TLS 1.3 traffic secrets are tried on them, and the plaintext, if
// any opens, is probed for a WebSocket as a TCP stream picked up
// mid-stream is.
func (c *Conn) startTLSMidstream(p Pos, dir Direction, b []byte) {
	c.more().sess = tls.NewSession(c.d.opts.KeyLog, tlsUp{c})
	c.sess.Scratch = &c.d.tlsScratch
	c.sess.StartMidstream(&c.d.midTrials)
	c.tlsSwapped = c.swapped
	c.proto = ProtoTLS
	c.phase = phaseProbe
	c.tlsPos = p
	c.sess.Feed(dir == ServerToClient, b)
}

// releaseTLSProblems reports the TLS problems held until the connection
// was numbered, at p (events never go back in input order).
func (c *Conn) releaseTLSProblems(p Pos) {
	if c.connMore == nil {
		return
	}
	held := c.tlsHeld
	c.tlsHeld = nil
	for _, h := range held {
		c.tlsFinding(p, h.from, h.kind, h.detail)
	}
}

func (c *Conn) tlsFinding(p Pos, from Direction, kind tls.Problem, detail string) {
	code := CodeTLSMalformed
	switch kind {
	case tls.ProblemNoKey:
		code = CodeTLSNoKey
	case tls.ProblemUnsupported:
		code = CodeTLSUnsupported
	case tls.ProblemAuth:
		code = CodeTLSUnauthentic
	case tls.ProblemRenegotiation:
		code = CodeTLSRenegotiation
	case tls.ProblemAlert:
		code = CodeTLSAlert
	case tls.ProblemEarlyRefused:
		code = CodeTLSEarlyRefused
	case tls.ProblemMidstream:
		code = CodeTLSMidstream
	}
	c.d.finding(&c.Session, p, code, from, "%s", detail)
}

// tlsInfo describes the connection's TLS layer for its handshake record.
func (c *Conn) tlsInfo() *TLSInfo {
	s := c.decrypting()
	if s == nil {
		return nil
	}
	h := s.Hello
	ti := &TLSInfo{SNI: h.ServerName, Resumed: s.Resumed, Decrypted: s.Decrypting}
	if h.Version != 0 {
		ti.Version = tls.VersionName(h.Version)
		ti.CipherSuite = tls.CipherSuiteName(h.CipherSuite)
	}
	switch {
	case h.ALPNChosen != "":
		ti.ALPN = h.ALPNChosen
	case len(h.ALPN) == 1:
		ti.ALPN = h.ALPN[0]
	}
	return ti
}

// maxNoKeyRandoms caps the problems kept to say which client randoms had
// no key.
const maxNoKeyRandoms = 10

// countTLS enters a connection that went through the TLS layer in the
// census.
func (c *Conn) countTLS(cs *Census) {
	if c.sess.Decrypting {
		cs.TLSDecrypted++
	}
}
