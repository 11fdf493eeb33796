package pipeline

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/wscap/wscap/dissect"
)

// TestDescribe: the line that says what the TCP connections were, and the
// server names it lists (most connections first, then by name, at most 5).
func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		t    Totals
		want string
	}{
		{Totals{}, "no TCP connections"},
		{Totals{Protocols: ProtocolCounts{WebSocket: 1, Other: 2}}, "1 websocket, 2 other"},
		{Totals{Protocols: ProtocolCounts{HTTP: 3, HTTP2: 1}, Rejected: 1}, "3 http (1 WebSocket upgrade refused, unanswered or malformed), 1 http2"},
		{Totals{Protocols: ProtocolCounts{HTTP: 3}, Rejected: 2}, "3 http (2 WebSocket upgrades refused, unanswered or malformed)"},
		{Totals{Protocols: ProtocolCounts{TLS: 4}, ServerNames: map[string]int64{"b.example": 1, "a.example": 1, "c.example": 2}},
			"4 tls (SNI c.example ×2, a.example, b.example)"},
		{Totals{Protocols: ProtocolCounts{TLS: 3}, ServerNames: map[string]int64{"": 2, "a.example": 1}}, "3 tls (no SNI ×2, a.example)"},
		{Totals{Protocols: ProtocolCounts{TLS: 8}, ServerNames: map[string]int64{"a": 1, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1, "(more)": 2}},
			"8 tls (SNI (more) ×2, a, b, c, d, and 2 more)"},
	} {
		if got := tc.t.Describe(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.t, got, tc.want)
		}
	}
}

// TestTotalsOutput: the lines for a summary's foot, with the caller's cap
// lines after the TLS lines; the record leaves out what is not in the
// schema.
func TestTotalsOutput(t *testing.T) {
	tot := &Totals{Kind: "totals", Packets: Counters{Read: 3, WebSocket: 2, NotTCP: 1}, Conns: 1, Protocols: ProtocolCounts{WebSocket: 1},
		TLSDecrypted: 1, TimeBackwards: 1, NoKeyRandoms: []string{"00"}, Findings: map[dissect.Code]int64{dissect.CodeConnsCapped: 1}}
	o := tot.Output([]string{"cap a", "cap b"})
	want := []string{
		"packets: 3 read = 2 websocket + 0 other TCP + 1 not TCP + 0 undecodable + 0 IP fragments; 1 WebSocket connections",
		"TCP connections: 1 websocket",
		"TLS: 1 connections decrypted with the key log, 0 without a secret in it",
		"cap a", "cap b",
		"timestamps: 1 packets are stamped earlier than the packet before them; wscap keeps the capture's order and counts those steps as no time",
	}
	if !slices.Equal(o.Lines, want) || !slices.Equal(o.Caps, []string{"cap a", "cap b"}) || o.Findings[dissect.CodeConnsCapped] != 1 {
		t.Errorf("lines %q, caps %q, findings %v", o.Lines, o.Caps, o.Findings)
	}
	b, err := json.Marshal(o.Record)
	if err != nil {
		t.Fatal(err)
	}
	const rec = `{"kind":"totals","packets":{"read":3,"websocket":2,"other_tcp":0,"not_tcp":1,"undecodable":0,"ip_fragments":0},"websocket_connections":1,"rejected_upgrades":0,` +
		`"protocols":{"websocket":1,"tls":0,"http":0,"http2":0,"other":0},"tls_decrypted":1,"timestamps_backwards":1}`
	if string(b) != rec {
		t.Errorf("record %s\nwant   %s", b, rec)
	}
}

// TestEngineTotals: the engine's totals count what Finish returned and
// what its census saw.
func TestEngineTotals(t *testing.T) {
	e, c := statsRun(t, 0)
	tot := e.Totals()
	if tot.Kind != "totals" || tot.Packets != c || tot.Conns != 1 || tot.Protocols.WebSocket != 1 || tot.Output(nil).Span != e.Span() {
		t.Errorf("totals %+v, counters %+v", tot, c)
	}
	if d := tot.Describe(); !strings.HasPrefix(d, "1 websocket") {
		t.Errorf("describe %q", d)
	}
}
