package output

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wscap/wscap/dissect"
	"github.com/wscap/wscap/dissect/app"
)

// The Record types are the schema; encoding them with encoding/json must
// give exactly what the hand-written encoder writes.

func recordOf(ev *dissect.Event, multi bool) any {
	r := Record{Kind: ev.Kind.String(), Conn: ev.Conn.ID, TS: FormatTime(ev.Pos.TS), Pkt: ev.Pos.Pkt}
	if multi {
		f := ev.Pos.File
		r.File = &f
	}
	exts := func(es []dissect.Extension) []string {
		var s []string
		for _, e := range es {
			s = append(s, e.String())
		}
		return s
	}
	switch ev.Kind {
	case dissect.KindHandshake:
		h := ev.Handshake
		hr := HandshakeRecord{Record: r, Client: ev.Conn.Client.String(), Server: ev.Conn.Server.String(), Captured: h.Captured, HeadCut: h.Cut,
			Status: h.Status, Method: h.Method, Path: h.Path, Host: h.Host, Origin: h.Origin, UserAgent: h.UserAgent,
			ServerHeader: h.Server, Version: h.Version, Key: h.Key, Accept: h.Accept, ExpectedAccept: h.ExpectedAccept,
			AcceptValid: h.AcceptValid, Subprotocol: h.Subprotocol, Extensions: exts(h.Extensions),
			OfferedSubprotocols: h.OfferedSubprotocols, OfferedExtensions: exts(h.OfferedExtensions)}
		if x := h.TLS; x != nil {
			hr.TLS = &TLSRecord{Version: x.Version, CipherSuite: x.CipherSuite, SNI: x.SNI, ALPN: x.ALPN, Resumed: x.Resumed, Decrypted: x.Decrypted}
		}
		return hr
	case dissect.KindMessage:
		m := ev.Message
		mr := MessageRecord{Record: r, From: m.From.String(), Opcode: m.Opcode.String(), Frames: m.Frames, WireLength: m.WireLength,
			Compressed: m.Compressed, Truncated: m.Truncated, Incomplete: m.Incomplete, Undecodable: m.Undecodable}
		if !m.Undecodable {
			l := m.Length
			mr.Length = &l
			if m.Opcode == dissect.OpText && m.TextValid {
				t := string(m.Payload)
				mr.Text = &t
			} else if m.Opcode != dissect.OpClose || m.CloseCode == 0 {
				d := append([]byte{}, m.Payload...)
				mr.Data = &d
			}
		}
		if m.App != nil {
			mr.App = NewAppRecord(m.App)
		}
		if m.Opcode == dissect.OpClose && m.CloseCode != 0 {
			mr.CloseCode = m.CloseCode
			reason := m.CloseReason
			mr.CloseReason = &reason
		}
		return mr
	case dissect.KindFinding:
		f := ev.Finding
		fr := FindingRecord{Record: r, Code: string(f.Code), Severity: f.Severity.String(), RFC: f.RFC, Detail: f.Detail}
		if f.Blame {
			fr.From = f.From.String()
		}
		return fr
	case dissect.KindFrame:
		f := ev.Frame
		fr := FrameRecord{Record: r, From: f.From.String(), Fin: f.Fin, RSV: f.RSV, Opcode: f.Opcode.String(), Masked: f.Masked,
			Length: f.Length, HeaderLen: f.HeaderLen, Data: append([]byte{}, f.Payload...), Truncated: f.Truncated}
		if f.Masked {
			fr.MaskingKey = hex.EncodeToString(f.Key[:])
		}
		return fr
	}
	return nil
}

func TestJSONLMatchesSchema(t *testing.T) {
	conn := &dissect.ConnInfo{ID: 7, Client: netip.MustParseAddrPort("[2001:db8::1]:50000"), Server: netip.MustParseAddrPort("10.0.0.2:443")}
	pos := dissect.Pos{File: 1, Pkt: 42, TS: time.Date(2024, 1, 2, 3, 4, 5, 6789, time.UTC)}
	texts := []string{"", "plain", "eight by", "sixteen bytes!!!", "0123456789abcdef\"q", strings.Repeat("long ascii text ", 9) + "\u2028", strings.Repeat("é", 30) + "\n", "quote \" backslash \\ newline \n tab \t", "\x00\x01\x1f\x7f", "é€🌍", "\u2028\u2029", "<&>", "\x1b[31mred", "C1 \u0085 \u009b[2J \u009d bidi \u202e\u2066 \u200f\u061c ok", strings.Repeat("x", 13) + "\u009b"}
	var events []*dissect.Event
	for _, s := range texts {
		events = append(events,
			&dissect.Event{Kind: dissect.KindMessage, Conn: conn, Pos: pos, Message: &dissect.Message{From: dissect.ClientToServer, Opcode: dissect.OpText, Frames: 2, Payload: []byte(s), Length: int64(len(s)), WireLength: 9, TextValid: true}},
			&dissect.Event{Kind: dissect.KindMessage, Conn: conn, Pos: pos, Message: &dissect.Message{From: dissect.ServerToClient, Opcode: dissect.OpBinary, Frames: 1, Payload: []byte(s), Length: int64(len(s)), Compressed: true, Truncated: true}},
			&dissect.Event{Kind: dissect.KindFinding, Conn: conn, Pos: pos, Finding: &dissect.Finding{Code: "x-y", Severity: dissect.SeverityError, RFC: "6455 §5.3", Blame: true, Detail: s}},
			&dissect.Event{Kind: dissect.KindHandshake, Conn: conn, Pos: pos, Handshake: &dissect.Handshake{Captured: true, Status: 101, Method: "GET", Path: s, Host: s,
				OfferedSubprotocols: []string{"a", s}, Extensions: []dissect.Extension{{Name: "permessage-deflate", Params: []dissect.ExtensionParam{{Name: "client_max_window_bits", Value: "10", HasValue: true}}}}}},
		)
	}
	events = append(events,
		&dissect.Event{Kind: dissect.KindHandshake, Conn: conn, Pos: pos, Handshake: &dissect.Handshake{Captured: true, Status: 101, Method: "GET", Path: "/ws", Host: "chat.example.com",
			TLS: &dissect.TLSInfo{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", SNI: "chat.example.com", ALPN: "http/1.1", Decrypted: true}}},
		&dissect.Event{Kind: dissect.KindHandshake, Conn: conn, Pos: pos, Handshake: &dissect.Handshake{Captured: true, TLS: &dissect.TLSInfo{Resumed: true}}},
		&dissect.Event{Kind: dissect.KindMessage, Conn: conn, Pos: pos, Message: &dissect.Message{Opcode: dissect.OpClose, CloseCode: 1000, CloseReason: "bye", Length: 5}},
		&dissect.Event{Kind: dissect.KindMessage, Conn: conn, Pos: pos, Message: &dissect.Message{Opcode: dissect.OpText, Undecodable: true, Compressed: true, WireLength: 3}},
		&dissect.Event{Kind: dissect.KindMessage, Conn: conn, Pos: pos, Message: &dissect.Message{Opcode: dissect.OpText, Payload: []byte("\xff"), Length: 1}},
		&dissect.Event{Kind: dissect.KindMessage, Conn: conn, Pos: pos, Message: &dissect.Message{Opcode: dissect.OpText, Payload: []byte(`42["chat"]`), Length: 10, TextValid: true,
			App: &app.Info{Protocol: app.SocketIO, Summary: "EVENT \"chat\" <b>\u009b[2J", EngineIO: "message", SocketIO: &app.SIOPacket{Type: "EVENT", Nsp: "/", ID: 3, Event: "chat", Args: []byte(`[ 1, {"a": "<\u202e>"} ]`)}}}},
		&dissect.Event{Kind: dissect.KindMessage, Conn: conn, Pos: pos, Message: &dissect.Message{Opcode: dissect.OpBinary, Payload: []byte("x"), Length: 1,
			App: &app.Info{Protocol: app.MQTT, Summary: "PUBLISH a q1", MQTT: []app.MQTTPacket{{Type: "PUBLISH", PacketID: 5, QoS: 1, Topic: "a", Payload: []byte("\xff")}, {Type: "PINGREQ", PacketID: -1}}, Partial: true}}},
		&dissect.Event{Kind: dissect.KindFrame, Conn: conn, Pos: pos, Frame: &dissect.Frame{Fin: true, RSV: 4, Opcode: dissect.OpPing, Masked: true, Key: [4]byte{1, 2, 3, 4}, Length: 3, HeaderLen: 6, Payload: []byte("abc")}},
	)
	for i, ev := range events {
		var got bytes.Buffer
		j := NewJSONL(&got, true, false)
		if err := j.Emit(ev); err != nil {
			t.Fatal(err)
		}
		j.Close()
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.Encode(recordOf(ev, true))
		if got.String() != escapeTerminal(want.String()) {
			t.Errorf("event %d:\n got %s\nwant %s", i, strings.TrimSpace(got.String()), strings.TrimSpace(want.String()))
		}
	}
}

// escapeTerminal escapes in encoding/json's output what wscap's encoder
// escapes beyond it (appendString): DEL, C1 controls and bidi controls.
func escapeTerminal(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == 0x7f || escapedRune(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestAppendJSONFloat(t *testing.T) {
	for _, f := range []float64{0, 1, 0.5, 123.456, 1e-7, 2.5e-9, 1e21, 3600.000001} {
		want, _ := json.Marshal(f)
		if got := appendJSONFloat(nil, f); string(got) != string(want) {
			t.Errorf("%v: got %s want %s", f, got, want)
		}
	}
}

// FuzzAppendValidText: the fast text escaper writes what appendString
// writes, for any valid UTF-8 and any bytes already in the buffer.
func FuzzAppendValidText(f *testing.F) {
	f.Add([]byte(`{"a":"b\\c"}`+"\u2028\u2029\x00\x1f\x7f é 東京 \xe2\x80\xa7"), 3)
	f.Add(benchText[:100], 0)
	f.Add([]byte("C1 \u0085\u009b\u009d DEL \x7f bidi \u202a\u202e\u2066\u2069 \u200e\u200f\u061c \u00a0\u2030\u2065 \u062c"), 5)
	f.Fuzz(func(t *testing.T, s []byte, pre int) {
		if !utf8.Valid(s) {
			return
		}
		prefix := bytes.Repeat([]byte{'x'}, pre&63)
		got := appendValidText(slices.Clip(prefix), s)
		want := appendString(slices.Clone(prefix), s)
		if !bytes.Equal(got, want) {
			t.Fatalf("appendValidText(%q) = %s, want %s", s, got, want)
		}
		// Valid JSON with the same value, and nothing a terminal acts on
		// or reorders left raw.
		var back string
		if err := json.Unmarshal(got[len(prefix):], &back); err != nil || back != string(s) {
			t.Fatalf("appendValidText(%q) = %s: parses to %q, %v", s, got, back, err)
		}
		for _, r := range string(got) {
			if r < 0x20 || r == 0x7f || escapedRune(r) {
				t.Fatalf("appendValidText(%q) = %q: %U left raw", s, got, r)
			}
		}
	})
}

// TestEncoderTimeCache: record times written from the kept second equal
// appendTime's, across seconds, days and years.
func TestEncoderTimeCache(t *testing.T) {
	var e JSONLEncoder
	base := time.Date(2024, 12, 31, 23, 59, 58, 999_999_999, time.UTC)
	times := []time.Time{base, base.Add(1), base.Add(2), base.Add(time.Second), base.Add(time.Second + 3),
		base, base.Add(2 * time.Second), base.Add(2*time.Second + 1), base.AddDate(1, 2, 3), base.AddDate(1, 2, 3),
		time.Unix(0, 0).UTC(), time.Unix(-1, 7).UTC(), time.Unix(-1, 8).UTC(), base.AddDate(9000, 0, 0), base.AddDate(9000, 0, 0).Add(5)}
	for _, tm := range times {
		got := string(e.appendTime(nil, tm))
		if want := string(appendTime(nil, tm)); got != want {
			t.Errorf("%v: %s, want %s", tm, got, want)
		}
	}
}

// TestDurationText: durations fit the 8-wide DURATION column up to 99
// hours, to the millisecond under a minute.
func TestDurationText(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{1234567 * time.Microsecond, "1.235s"},
		{59999 * time.Millisecond, "59.999s"},
		{59999600 * time.Microsecond, "1m0s"},
		{77624 * time.Millisecond, "1m17.6s"},
		{59*time.Minute + 59940*time.Millisecond, "59m59.9s"},
		{66*time.Hour + 21*time.Minute + 7400*time.Millisecond, "66h21m7s"},
		{-5 * time.Millisecond, "-5ms"},
	} {
		if got := durationText(c.d); got != c.want {
			t.Errorf("%v: %q, want %q", c.d, got, c.want)
		}
		if got := durationText(c.d); utf8.RuneCountInString(got) > 8 {
			t.Errorf("%v: %q is wider than the column", c.d, got)
		}
	}
}

// TestStatsCells: a row's table cells, every column filled, and how a
// long cell is cut.
func TestStatsCells(t *testing.T) {
	hs := &dissect.Handshake{Captured: true, Status: 101, AcceptValid: true, Host: "example.com", Path: "/ws", Subprotocol: "chat",
		Extensions: []dissect.Extension{{Name: "permessage-deflate"}}}
	sum := &dissect.Summary{Handshake: hs, Start: dissect.Pos{TS: time.Unix(0, 0)}, End: dissect.Pos{TS: time.Unix(1, 234560000)}, Duration: 1234560000,
		Client:      dissect.DirStats{Messages: 3, Bytes: 1234, WireBytes: 1000, Compressed: 1, Largest: 999, CloseCode: 1000},
		Server:      dissect.DirStats{Messages: 40, Bytes: 56789, WireBytes: 23000, Largest: 10, CloseCode: 1001},
		ClosedFirst: true, ClosedBy: dissect.ClientToServer, Findings: [3]int64{dissect.SeverityError: 1, dissect.SeverityWarning: 2, dissect.SeverityInfo: 3}}
	sum.Server.ByOpcode[dissect.OpText], sum.Client.ByOpcode[dissect.OpClose] = 40, 3
	sum.RTT = dissect.RTT{Count: 3, Min: 12345 * time.Microsecond, Max: 1234567 * time.Millisecond} // no samples: median 0
	ev := &dissect.Event{Kind: dissect.KindConnection, Conn: &dissect.ConnInfo{Client: netip.MustParseAddrPort("10.0.0.1:5000"),
		Server: netip.MustParseAddrPort("10.0.0.2:80")}, Summary: sum}
	cells := func(ev *dissect.Event, r *statsRow, _ int) []string {
		w := rowWriter{}
		w.cells(ev, r)
		var c [statsColumns]string
		var widths [statsColumns - 1]uint16
		splitCells(&c, "", w.done(&widths))
		for i, n := range widths {
			if int(n) != visibleWidth(c[i+1]) {
				t.Errorf("cell %q: width %d", c[i+1], n)
			}
		}
		return c[1:]
	}
	r := rowNums(ev)
	want := []string{"10.0.0.1:5000 → 10.0.0.2:80", "example.com/ws", "chat permessage-deflate", "ok", "1.235s", "3/40",
		"1234/56789", "text:40 close:3", "2.42", "999", "12.3/0/1.23e+06", "client first; client 1000, server 1001", "1/2/3"}
	if got := cells(ev, &r, 60); !slices.Equal(got, want) {
		t.Errorf("cells\n%q\nwant\n%q", got, want)
	}
	sum.Client.CloseCode, sum.ClosedBy = 0, dissect.ServerToClient
	if got := cells(ev, &r, 60)[11]; got != "server first; server 1001" {
		t.Errorf("close cell %q, want the server's code alone", got)
	}
	r = statsRow{Connections: 2, RTTCount: 1, RTTMin: 0.5, RTTMax: 7}
	want = []string{"2 connections", "", "", "totals", "0s", "0/0", "0/0", "", "", "0", "0.5/-/7", "", "0/0/0"}
	if got := cells(nil, &r, 60); !slices.Equal(got, want) {
		t.Errorf("totals cells\n%q\nwant\n%q", got, want)
	}
	// A row keeps its cells' lengths as uvarints: cells of 0, 127, 128 and
	// 300 bytes come back whole.
	var w rowWriter
	want = make([]string, statsColumns-1)
	for i := range want {
		want[i] = strings.Repeat(string(rune('a'+i)), []int{0, 127, 128, 300}[i%4])
		w.text(want[i])
	}
	var c [statsColumns]string
	var widths [statsColumns - 1]uint16
	splitCells(&c, "n", w.done(&widths))
	if c[0] != "n" || !slices.Equal(c[1:], want) {
		t.Errorf("long cells: %q", c)
	}
	for i, n := range widths {
		if int(n) != len(want[i]) {
			t.Errorf("cell %d: width %d, want %d", i, n, len(want[i]))
		}
	}
}

// TestTerminalEscapes: C1 controls, DEL and the bidirectional controls are
// written as \u escapes by both escapers; their neighbours are not.
func TestTerminalEscapes(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a\u009b2Jb", `"a\u009b2Jb"`},
		{"\u0085\u009d", `"\u0085\u009d"`},
		{"x\x7fy", `"x\u007fy"`},
		{"abc\u202edef", `"abc\u202edef"`},
		{"\u2066\u2067\u2068\u2069", `"\u2066\u2067\u2068\u2069"`},
		{"\u200e\u200f\u061c", `"\u200e\u200f\u061c"`},
		{"\u00a0\u00e9\u2030\u2065\u062c€", "\"\u00a0\u00e9\u2030\u2065\u062c€\""}, // not controls
		{"\u2028\u2029", `"\u2028\u2029"`},
	} {
		for name, got := range map[string]string{"appendString": string(appendString(nil, c.in)), "appendValidText": string(appendValidText(nil, []byte(c.in))),
			"appendValidText, long": string(appendValidText(nil, []byte("01234567"+c.in+"01234567")))} {
			want := c.want
			if strings.HasSuffix(name, "long") {
				want = `"01234567` + c.want[1:len(c.want)-1] + `01234567"`
			}
			if got != want {
				t.Errorf("%s(%q) = %s, want %s", name, c.in, got, want)
			}
		}
	}
}

// TestEscapeTerminalRunes: encoding/json's output, rewritten, keeps its
// values and loses its raw controls.
func TestEscapeTerminalRunes(t *testing.T) {
	in := map[string]string{"a": "x\x7f\u009b[2J\u202eok\u00e9\u2028", "plain": "abc"}
	b, _ := json.Marshal(in)
	out := escapeTerminalRunes(b)
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || back["a"] != in["a"] || back["plain"] != "abc" {
		t.Fatalf("%s: %v %q", out, err, back)
	}
	for _, r := range string(out) {
		if r == 0x7f || escapedRune(r) {
			t.Fatalf("%s: %U raw", out, r)
		}
	}
	if plain := []byte(`{"a":"b"}`); &escapeTerminalRunes(plain)[0] != &plain[0] {
		t.Errorf("clean input copied")
	}
}

// TestStatsLayout: the stats table's columns fit the terminal: numbers
// are never cut, the columns that matter least go first, text narrows.
func TestStatsLayout(t *testing.T) {
	row := []string{"123456", "[2001:db8::1234]:50000 → [2001:db8::1]:443", "a-long-host-name.example.com/some/path", "chat permessage-deflate",
		"ok", "1.235s", "12345678/40", "123456789012/5", "text:40 close:3", "2.42", "999", "12.3/0/1.23e+06", "client first; client 1000", "1/2/3"}
	for _, tc := range []struct {
		width   int
		columns []string
	}{
		{0, nil}, // all of them
		{300, nil},
		{160, []string{"CONN", "CLIENT → SERVER", "HOST/PATH", "HANDSHAKE", "DURATION", "MSGS C/S", "BYTES C/S", "CLOSE", "FINDINGS E/W/I"}},
		{120, []string{"CONN", "CLIENT → SERVER", "HOST/PATH", "MSGS C/S", "BYTES C/S", "FINDINGS E/W/I"}},
		{80, []string{"CONN", "CLIENT → SERVER", "HOST/PATH", "MSGS C/S", "BYTES C/S"}},
	} {
		var widest [statsColumns]int
		for i, c := range row {
			widest[i] = visibleWidth(c)
		}
		show, widths := statsLayout(&widest, tc.width)
		var names []string
		total := 1
		for j, i := range show {
			names = append(names, statsCols[i].name)
			total += widths[j] + 3
			if statsCols[i].num && widths[j] < visibleWidth(row[i]) {
				t.Errorf("width %d: %s is %d wide, its number %d", tc.width, statsCols[i].name, widths[j], visibleWidth(row[i]))
			}
		}
		if tc.columns == nil && len(show) != len(statsCols) || tc.columns != nil && !slices.Equal(names, tc.columns) {
			t.Errorf("width %d: columns %q", tc.width, names)
		}
		if tc.width > 0 && total > tc.width {
			t.Errorf("width %d: the table is %d wide", tc.width, total)
		}
	}
}

// TestStatsSorted: the stats table lists connections by number, whatever
// order they ended in.
func TestStatsSorted(t *testing.T) {
	var out bytes.Buffer
	s := NewStats(&out, false)
	enc := s.Encoder()
	for _, id := range []int{3, 1, 10, 2} {
		ev := &dissect.Event{Kind: dissect.KindConnection, Conn: &dissect.ConnInfo{ID: id, Client: netip.MustParseAddrPort("10.0.0.1:5000"),
			Server: netip.MustParseAddrPort("10.0.0.2:80")}, Summary: &dissect.Summary{}}
		if err := s.WriteRecord(encoded(enc, ev, id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(strings.Trim(l, "| ")); len(f) > 0 && l[0] == '|' && f[0] != "CONN" {
			ids = append(ids, f[0])
		}
	}
	if !slices.Equal(ids, []string{"1", "2", "3", "10", "total"}) {
		t.Errorf("rows %q\n%s", ids, out.String())
	}
}

// encoded encodes ev as a shard does and numbers it conn, as the pipeline
// hands it to a writer.
func encoded(enc Encoder, ev *dissect.Event, conn int) *Encoded {
	b, v, ok := enc.Encode(nil, ev)
	if !ok {
		return nil
	}
	return &Encoded{Kind: ev.Kind, Conn: conn, Bytes: b, Value: v}
}
