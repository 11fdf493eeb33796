package dissect

// Session is one WebSocket (RFC 6455): the frames of its two directions,
// the messages they make, permessage-deflate, ping/pong round trips, the
// closing handshake, its findings and its summary. It is fed a byte stream
// per direction (feed, gap) once what the handshake negotiated is set (its
// Handshake, deflate); it never knows what carries those bytes: TCP, TLS
// plaintext, or (later) an HTTP/2 stream. A Conn holds the session of its
// connection; each session is numbered on its own (info.ID).
type Session struct {
	d      *Dissector
	known  bool // numbered: a handshake attempt or frames were seen
	hsSent bool
	// appChosen: the application decoder was chosen (appState nil: none).
	appChosen bool
	deflate   deflateParams
	budget    inflateBudget
	dirs      [2]dirState
	sum       Summary
	info      ConnInfo
	hs        Handshake
	pings     *[2][]pendingPing // allocated at the first ping
	// The application protocol (appdecode.go): chosen at the first data
	// message (appChosen); nil when decoding is off for this session.
	*appState
}

// Accepted reports whether the server's answer opened the WebSocket: 101
// to an HTTP/1.1 upgrade, 2xx to an extended CONNECT (RFC 8441 §5).
func (h *Handshake) Accepted() bool {
	if h.H2 != nil {
		return h.Status >= 200 && h.Status <= 299
	}
	return h.Status == 101
}

// carrier names what carries the session, for findings.
func (s *Session) carrier() string {
	if s.info.H2Stream != 0 {
		return "HTTP/2 stream"
	}
	return "TCP connection"
}

// feed hands the session in-order bytes of direction dir.
func (s *Session) feed(dir Direction, p Pos, b []byte) { s.dirs[dir].feed(s, dir, p, b) }

// dirState is what one direction of a session carries between calls: its
// frame reader (reader.go) and message assembler (assembler.go), and on a
// Conn the HTTP head read before the upgrade (conn.go).
type dirState struct {
	// Hot first: a packet in the middle of a capture touches the frame
	// reader and the message assembler, the HTTP phase only at the start
	// (fewer cache lines per packet with thousands of connections).
	frames   frameReader
	messages assembler

	// HTTP phase.
	http     []byte // a head that arrived in pieces
	scan     int    // where the search for the head's end resumes
	bodyLeft int64  // bytes of an ordinary request body still to skip
	sawHTTP  bool

	// A dirState is 368 bytes, so that a Conn's second direction starts
	// on a cache line (Conn.Prefetch, TestConnLayout).
	_ [8]byte
}

func (s *dirState) startFrames(c *Session, dir Direction) {
	s.http = nil
}

// feed reads the frames in b, which follows the bytes fed before.
func (s *dirState) feed(c *Session, dir Direction, p Pos, b []byte) {
	s.frames.feed(c, dir, p, b, &s.messages)
}

// gap tells the direction that n bytes were lost before the next feed.
func (s *dirState) gap(c *Session, dir Direction, p Pos, n int64) {
	s.frames.gap(c, dir, p, n, &s.messages)
}

// flush reports what is still open in this direction when the session
// ends: a partial frame and an unfinished message are emitted incomplete.
func (s *dirState) flush(c *Session, dir Direction, p Pos) {
	s.frames.flush(c, dir, p, &s.messages)
	s.messages.flush(c, dir, p)
}

// recognise numbers the session, once; it reports whether it did now.
func (s *Session) recognise(p Pos) bool {
	if s.known {
		return false
	}
	s.known = true
	d := s.d
	d.nextID++
	s.info.ID = d.nextID
	d.ev = Event{Kind: KindRecognised, Conn: &s.info, Pos: p}
	d.emit(&d.ev)
	return true
}

// emitHandshake emits the session's handshake record, once.
func (s *Session) emitHandshake(p Pos) {
	if s.hsSent {
		return
	}
	s.hsSent = true
	s.sum.Handshake = &s.hs
	d := s.d
	d.ev = Event{Kind: KindHandshake, Conn: &s.info, Pos: p, Handshake: &s.hs}
	d.emit(&d.ev)
	s.hs.compact()
	s.info.Host, s.info.Path = s.hs.Host, s.hs.Path
}

// end closes the session at p: its carrier ended (reason), or, for an
// upgrade that did not open, the next one starts. An open session's
// incomplete messages are flushed and its closing handshake judged (RFC
// 6455 §7.1.1, §5.5.1); then its KindConnection record is emitted.
func (s *Session) end(p Pos, reason EndReason, open bool) {
	if open {
		for d := ClientToServer; d <= ServerToClient; d++ {
			s.dirs[d].flush(s, d, p)
		}
		if s.appState != nil {
			for _, pr := range s.app.End() {
				from := sideDir(!pr.Client)
				s.d.finding(s, p, Code(pr.Code), from, "%s", pr.Detail)
			}
		}
		cl, sv := s.sum.Client.CloseSent, s.sum.Server.CloseSent
		switch {
		case cl && sv:
			if reason == EndFIN || reason == EndRST {
				reason = EndClose
			}
		case cl || sv:
			by := ClientToServer
			if sv {
				by = ServerToClient
			}
			switch reason {
			case EndIdle:
				s.d.finding(s, p, CodeOpenAtEnd, by, "the connection went quiet (--idle-timeout, or a new connection on its ports) while the %s's Close was unanswered; its later traffic is a new record", by)
			case EndCaptureEnd:
				s.d.finding(s, p, CodeOpenAtEnd, by, "the capture ended while the %s's Close was unanswered", by)
			default:
				s.d.finding(s, p, CodeCloseUnanswered, by.Reverse(), "the %s sent Close, the %s never answered it before the connection ended (%s)", by, by.Reverse(), reason)
			}
		default:
			switch reason {
			case EndIdle:
				s.d.finding(s, p, CodeOpenAtEnd, 0, "the connection went quiet (--idle-timeout, or a new connection on its ports) while open; its later traffic is a new record")
			case EndCaptureEnd:
				s.d.finding(s, p, CodeOpenAtEnd, 0, "the capture ended while the connection was open")
			default:
				s.d.finding(s, p, CodeCloseMissing, 0, "the %s ended (%s) without a closing handshake", s.carrier(), reason)
			}
		}
	}
	if s.hsSent && s.hs.Status != 0 && !s.hs.Accepted() {
		reason = EndRejected
	}
	s.sum.Reason = reason
	s.sum.Handshake = &s.hs
	s.appSummary()
	d := s.d
	d.ev = Event{Kind: KindConnection, Conn: &s.info, Pos: p, Summary: &s.sum}
	d.emit(&d.ev)
}
