package dissect

import "github.com/wscap/wscap/dissect/http1"

// The HTTP/1.1 Upgrade to h2c (RFC 7540 §3.2, still deployed although RFC
// 9113 deprecates it): a request with "Upgrade: h2c" and HTTP2-Settings;
// a 101 switches the connection to HTTP/2, whose stream 1 is that request
// (answered by the server in HTTP/2), after the client's preface.

// asksH2c reports whether an HTTP/1.1 request asks to upgrade to h2c.
func asksH2c(req *http1.RequestHead) bool {
	return req.Header.HasToken("Upgrade", "h2c") && req.Header.HasToken("Connection", "Upgrade")
}

// h2cResponse reads the server's answer to a request that asked for h2c.
func (c *Conn) h2cResponse(p Pos, b []byte) {
	s := &c.dirs[ServerToClient]
	for len(b) > 0 && c.phase == phaseAwaitH2c {
		head, rest, ok := c.takeHead(s, p, b)
		if !ok {
			return
		}
		b = rest
		resp, err := http1.ParseResponse(head, c.d.opts.MaxHandshake)
		switch {
		case err != nil:
			c.h2 = nil
			c.phase = phaseDone
			return
		case resp.Status == 101 && resp.Header.HasToken("Upgrade", "h2c"):
			m := c.more()
			pend, lost := m.pending, m.pendingGap
			m.pending, m.pendingGap = nil, 0
			c.startH2(p, true) // in the carrier that holds the request
			h := c.h2
			if len(pend) > 0 {
				h.data(ClientToServer, p, pend)
			}
			if lost > 0 {
				h.gap(ClientToServer, p, lost)
			}
			if len(b) > 0 {
				h.data(ServerToClient, p, b)
			}
			return
		case resp.Status >= 100 && resp.Status < 200 && resp.Status != 101:
			continue // interim
		default:
			c.h2 = nil
			c.refused(p) // it stays HTTP/1.1
			return
		}
	}
}
