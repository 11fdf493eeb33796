package dissect

import (
	"cmp"
	"slices"
	"strings"

	"github.com/wscap/wscap/dissect/app"
)

// Application protocols (dissect/app): a session's data messages are
// handed to the decoder its handshake or its first messages chose; what
// the decoder read rides on the message (Message.App), what it found
// wrong follows the message as findings.

// appState is a session's application decoding: its decoder, and for its
// connection record the names it read (events, topics, destinations,
// methods) with their counts, and the response latencies.
type appState struct {
	app     *app.Conn
	counts  map[string]int64 // made at the first name
	latency RTT
}

// maxAppNames caps the distinct names counted per session.
const maxAppNames = 256

// decodeApp decodes m with the session's application decoder, choosing it
// first if need be, and returns what it found wrong (valid until the next
// call).
func (c *Session) decodeApp(dir Direction, p Pos, m *Message) []app.Problem {
	d := c.d
	if !c.appChosen {
		c.appChosen = true
		forced, off := d.opts.App, d.opts.AppOff
		if name, ok := d.opts.AppConn[c.info.ID]; ok {
			forced, _ = app.ParseProtocol(name)
			off = name == "none"
		}
		if a := app.Choose(forced, off, c.hs.Subprotocol, c.hs.Path, app.Options{MaxBuffer: d.opts.AppMaxBuffer}); a != nil {
			c.appState = &appState{app: a}
		}
	}
	if c.appState == nil {
		return nil
	}
	a := c.app
	client := dir == ClientToServer
	if m.Undecodable || m.Truncated || m.Incomplete {
		a.Lost(client) // what it held for this direction cannot be continued
		return nil
	}
	m.App = a.Message(client, m.Opcode == OpText, m.Payload, p.TS)
	if a.Done() {
		c.appState = nil // nothing recognised in the first messages
		return nil
	}
	if m.App != nil {
		c.countApp(m.App)
	}
	return a.Problems()
}

// appWantsPayload reports whether a message must be kept for the
// application decoder even with Options.NoPayload: when a protocol is
// decoded, and, while the first messages are looked at to recognise one,
// when it can be borrowed whole (single: one frame in one piece), which
// costs no copy.
func (c *Session) appWantsPayload(single bool) bool {
	switch {
	case c.d.opts.AppOff && len(c.d.opts.AppConn) == 0:
		return false
	case !c.appChosen || c.appState != nil && c.app.Sniffing():
		return single
	}
	return c.appState != nil
}

func (c *Session) countApp(info *app.Info) {
	n := c.appState
	if n.counts == nil && len(info.Names) > 0 {
		n.counts = map[string]int64{}
	}
	for _, name := range info.Names {
		if _, ok := n.counts[name]; ok || len(n.counts) < maxAppNames {
			n.counts[name]++
		}
	}
	for _, r := range info.JSONRPC {
		if r.LatencyKnown {
			n.latency.add(r.Latency)
		}
	}
	if g := info.GraphQL; g != nil && g.LatencyKnown && g.Type != "next" && g.Type != "data" {
		n.latency.add(g.Latency)
	}
}

// appSummary fills the application fields of the session's record.
func (c *Session) appSummary() {
	if c.appState == nil || c.app.Protocol == app.None {
		return
	}
	sum := &AppSummary{Protocol: c.app.Protocol.String(), Latency: c.latency}
	c.sum.App = sum
	for name, k := range c.counts {
		sum.Top = append(sum.Top, NameCount{name, k})
	}
	slices.SortFunc(sum.Top, func(a, b NameCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Name, b.Name))
	})
	if len(sum.Top) > 5 {
		sum.Top = sum.Top[:5]
	}
}
