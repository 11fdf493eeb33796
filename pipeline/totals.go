package pipeline

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wscap/wscap/dissect"
	"github.com/wscap/wscap/output"
	"github.com/wscap/wscap/pcap/defrag"
)

// Totals is what a run counted: every packet read, the WebSocket
// connections that opened, what the TCP connections carried, and IP
// reassembly when there were fragments. Its JSON fields are the totals
// record of the JSON schema (kind "totals"), in that order.
type Totals struct {
	Kind     string   `json:"kind"`
	Packets  Counters `json:"packets"`
	Conns    int64    `json:"websocket_connections"`
	Rejected int64    `json:"rejected_upgrades"`
	// H2WebSockets counts the WebSockets over HTTP/2 streams (also in
	// websocket_connections), H2OtherStreams the other HTTP/2 streams.
	H2WebSockets   int64 `json:"h2_websockets,omitempty"`
	H2OtherStreams int64 `json:"h2_other_streams,omitempty"`
	// H2Undecoded counts the HTTP/2 streams whose headers could not be
	// decoded after loss: not attributed.
	H2Undecoded int64          `json:"h2_undecoded_streams,omitempty"`
	Protocols   ProtocolCounts `json:"protocols"`
	// ServerNames counts the TLS connections by the server name of their
	// ClientHello (SNI); "" holds those without one, "(more)" those past
	// dissect.MaxServerNames names.
	ServerNames map[string]int64 `json:"tls_server_names,omitempty"`
	// With a key log: the TLS connections decrypted, and those the key
	// log had no secret for (NoKeyRandoms lists their client randoms).
	TLSDecrypted int64    `json:"tls_decrypted,omitempty"`
	TLSNoKey     int64    `json:"tls_no_key,omitempty"`
	NoKeyRandoms []string `json:"-"`
	// What the TLS hellos chose, counted by name (see dissect.Census).
	TLSVersions     map[string]int64 `json:"tls_versions,omitempty"`
	TLSCipherSuites map[string]int64 `json:"tls_cipher_suites,omitempty"`
	TLSALPN         map[string]int64 `json:"tls_alpn,omitempty"`
	// Findings counts the findings by code; not in the record. A caller
	// that left connections out of the output sets it to nil: the counts
	// are over all of them (see output.Totals.Findings).
	Findings map[dissect.Code]int64 `json:"-"`
	Defrag   *defrag.Stats          `json:"ip_defrag,omitempty"`
	// TimeBackwards counts the packets stamped earlier than the packet
	// before them in their file (merged or clock-adjusted captures).
	TimeBackwards int64 `json:"timestamps_backwards,omitempty"`
	span          time.Duration
	// Evicted counts the connections the cap on open connections ended
	// (reassembly.Options.MaxConns), AfterEviction their packets that
	// came after (counted with them, not decoded).
	Evicted       int64 `json:"evicted_connections,omitempty"`
	AfterEviction int64 `json:"packets_after_eviction,omitempty"`
	// HalfOpenForgotten counts the connections that had carried no byte
	// (a SYN flood, a scan) forgotten to stay within the cap on them
	// (reassembly.Options.MaxHalfOpen).
	HalfOpenForgotten int64 `json:"half_open_forgotten,omitempty"`
}

// ProtocolCounts is the number of TCP connections per protocol.
type ProtocolCounts struct {
	WebSocket int64 `json:"websocket"`
	TLS       int64 `json:"tls"`
	HTTP      int64 `json:"http"`
	HTTP2     int64 `json:"http2"`
	Other     int64 `json:"other"`
}

// Totals returns what the run counted, after Finish.
func (e *Engine) Totals() *Totals {
	cs := &e.census
	p := &cs.Protocols
	t := &Totals{Kind: "totals", Packets: e.counters, Conns: p[dissect.ProtoWebSocket] + cs.H2WebSockets, Rejected: cs.Rejected, H2WebSockets: cs.H2WebSockets, H2OtherStreams: cs.H2OtherStreams, H2Undecoded: cs.H2Undecoded, TLSDecrypted: cs.TLSDecrypted, TLSNoKey: cs.TLSNoKey, NoKeyRandoms: cs.NoKeyRandoms,
		TLSVersions: cs.TLSVersions, TLSCipherSuites: cs.TLSCipherSuites, TLSALPN: cs.TLSALPN, Findings: cs.Findings,
		Protocols: ProtocolCounts{WebSocket: p[dissect.ProtoWebSocket], TLS: p[dissect.ProtoTLS], HTTP: p[dissect.ProtoHTTP], HTTP2: p[dissect.ProtoHTTP2], Other: p[dissect.ProtoOther]}}
	if p[dissect.ProtoTLS] > 0 {
		t.ServerNames = maps.Clone(cs.ServerNames)
		if t.ServerNames == nil {
			t.ServerNames = map[string]int64{}
		}
		if cs.NoName > 0 {
			t.ServerNames[""] = cs.NoName
		}
		if cs.MoreNames > 0 {
			t.ServerNames["(more)"] = cs.MoreNames
		}
	}
	t.TimeBackwards, t.span = e.TimeBackwards(), e.Span()
	t.Evicted, t.AfterEviction = e.Evicted()
	t.HalfOpenForgotten = e.HalfOpenForgotten()
	if d := e.DefragStats(); d.Fragments > 0 {
		t.Defrag = &d
	}
	return t
}

// Describe says in one line what the TCP connections were: "1 websocket,
// 3 tls (SNI chat.example.com), 2 other".
func (t *Totals) Describe() string {
	var parts []string
	p := t.Protocols
	for _, x := range []struct {
		name string
		n    int64
	}{{"websocket", p.WebSocket}, {"tls", p.TLS}, {"http", p.HTTP}, {"http2", p.HTTP2}, {"other", p.Other}} {
		if x.n == 0 {
			continue
		}
		s := fmt.Sprintf("%d %s", x.n, x.name)
		switch {
		case x.name == "tls":
			s += " (" + t.serverNames(5) + ")"
		case x.name == "http" && t.Rejected > 0:
			s += fmt.Sprintf(" (%d WebSocket upgrade%s refused, unanswered or malformed)", t.Rejected, plural(t.Rejected))
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "no TCP connections"
	}
	return strings.Join(parts, ", ")
}

// serverNames lists up to n server names, most connections first.
func (t *Totals) serverNames(n int) string {
	names := slices.Collect(maps.Keys(t.ServerNames))
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(t.ServerNames[b], t.ServerNames[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	var out []string
	for i, name := range names {
		if i == n {
			out = append(out, fmt.Sprintf("and %d more", len(names)-n))
			break
		}
		label := name
		if name == "" {
			label = "no SNI"
		}
		if c := t.ServerNames[name]; c > 1 {
			label += fmt.Sprintf(" ×%d", c)
		}
		out = append(out, label)
	}
	if len(out) > 0 && names[0] != "" {
		return "SNI " + strings.Join(out, ", ")
	}
	return strings.Join(out, ", ")
}

// Output returns the totals as the writers finish with them. caps are
// the lines about the caps the run hit, which the caller words: it knows
// how they were set.
func (t *Totals) Output(caps []string) *output.Totals {
	return &output.Totals{Record: *t, Span: t.span, Lines: t.lines(caps), Caps: caps, Findings: t.Findings}
}

// lines says in words what the run counted, for the foot of stats, with
// caps after the TLS lines.
func (t *Totals) lines(caps []string) []string {
	c := t.Packets
	s := []string{fmt.Sprintf("packets: %d read = %d websocket + %d other TCP + %d not TCP + %d undecodable + %d IP fragments; %d WebSocket connections",
		c.Read, c.WebSocket, c.OtherTCP, c.NotTCP, c.Undecodable, c.Fragments, t.Conns)}
	s = append(s, "TCP connections: "+t.Describe())
	if len(t.TLSVersions) > 0 || len(t.TLSALPN) > 0 {
		s = append(s, "TLS hellos: "+output.CountsText(t.TLSVersions)+"; "+output.CountsText(t.TLSCipherSuites)+"; ALPN "+output.CountsText(t.TLSALPN))
	}
	if t.TLSDecrypted > 0 || t.TLSNoKey > 0 {
		s = append(s, fmt.Sprintf("TLS: %d connections decrypted with the key log, %d without a secret in it", t.TLSDecrypted, t.TLSNoKey))
	}
	s = append(s, caps...)
	if t.TimeBackwards > 0 {
		s = append(s, fmt.Sprintf("timestamps: %d packets are stamped earlier than the packet before them; wscap keeps the capture's order and counts those steps as no time", t.TimeBackwards))
	}
	return s
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}
