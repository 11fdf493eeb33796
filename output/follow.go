package output

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wscap/wscap/dissect"
	"github.com/wscap/wscap/dissect/app"
	"github.com/wscap/wscap/dissect/http1"
)

// Follow prints the conversation of connections as a readable transcript,
// like Wireshark's Follow Stream: the handshake heads, then every message
// with its direction and time, text as text (JSON pretty-printed unless
// Raw), binary as a hex dump, findings inline. Every byte that could act on
// a terminal is escaped. Its encoder takes what the transcript shows from
// the events on the shards (a message's payload as the record's bytes).
type Follow struct {
	w     *bufio.Writer
	Raw   bool // print JSON text as it came
	start map[int]time.Time
	// Msg, when set, prints only the Msg-th message (from 1) of the
	// conversation, whole; MsgOut, when set too, receives its payload
	// bytes as they were sent (unmasked, inflated) instead.
	Msg    int
	MsgOut io.Writer
	// Full prints every byte of every message; otherwise a message shows
	// at most FollowText bytes of text or FollowBinary bytes of hex dump,
	// then says how much is left and how to see it.
	Full bool
	msgs int
}

// The prefix of a long message that Follow shows without Full: a
// decompression bomb of 2,000 messages must not print 10 GB.
const (
	FollowText   = 16 << 10
	FollowBinary = 4 << 10
)

// Messages returns the number of messages seen (to tell a --msg beyond
// them).
func (f *Follow) Messages() int { return f.msgs }

// NewFollow returns a Follow writing to w.
func NewFollow(w io.Writer, raw bool) *Follow {
	return &Follow{w: bufio.NewWriter(w), Raw: raw, start: map[int]time.Time{}}
}

// Encoder returns the encoder whose records WriteRecord takes.
func (f *Follow) Encoder() Encoder { return followEncoder{} }

// The values of Follow's records. Their strings are made valid UTF-8
// (each stray byte U+FFFD), as the transcript has always shown them.
type (
	followHandshake struct {
		ts             time.Time
		h2Stream       uint32
		client, server string
		h2Other        []string
		captured       bool
		heads          []followHead // request, response
	}
	followHead struct {
		line    string
		headers [][2]string
	}
	// followMessage heads a message; the record's bytes are its payload
	// (text, data or nothing, as payload says).
	followMessage struct {
		ts                                 time.Time
		pkt                                uint64
		from                               dissect.Direction
		opcode                             string
		frames                             int
		length, wireLength                 int64 // length -1: unknown
		compressed                         bool
		truncated, incomplete, undecodable bool
		payload                            followPayload
		closeCode                          int
		closeReason                        string
		app                                *followApp
	}
	followApp struct {
		protocol, summary string
		frames            []followHead // STOMP: command and headers
		packets           []followMQTT
	}
	followMQTT struct {
		typ, topic, clientID, username, willTopic string
		properties                                [][2]string
		payload                                   *string
		payloadBytes                              int // a binary payload's length
	}
	followFinding struct {
		ts                   time.Time
		pkt                  uint64
		severity, code, from string
		detail               string
	}
	followEnd struct {
		ts             time.Time
		reason         string
		client, server dissect.DirStats
	}
)

type followPayload uint8

const (
	followNone  followPayload = iota // undecodable
	followText                       // the bytes are valid UTF-8 text
	followData                       // the bytes are binary (or invalid text)
	followClose                      // a close with a status: closeCode, closeReason
)

type followEncoder struct{}

func (followEncoder) Encode(dst []byte, ev *dissect.Event) ([]byte, any, bool) {
	ts := ev.Pos.TS
	switch ev.Kind {
	case dissect.KindHandshake:
		h := ev.Handshake
		r := &followHandshake{ts: ts, h2Stream: ev.Conn.H2Stream, client: ev.Conn.Client.String(), server: ev.Conn.Server.String(), captured: h.Captured}
		if h.H2 != nil {
			for _, o := range h.H2.Other {
				r.h2Other = append(r.h2Other, validUTF8(o))
			}
		}
		if rq := h.Request; rq != nil {
			r.heads = append(r.heads, followHead{validUTF8(rq.Method + " " + rq.Target + " " + rq.Proto), validHeader(rq.Header)})
		}
		if rs := h.Response; rs != nil {
			line := rs.Proto + " " + strconv.Itoa(rs.Status)
			if rs.Reason != "" {
				line += " " + rs.Reason
			}
			r.heads = append(r.heads, followHead{validUTF8(line), validHeader(rs.Header)})
		}
		return dst, r, true
	case dissect.KindMessage:
		m := ev.Message
		r := &followMessage{ts: ts, pkt: ev.Pos.Pkt, from: m.From, opcode: m.Opcode.String(), frames: m.Frames, length: m.Length, wireLength: m.WireLength,
			compressed: m.Compressed, truncated: m.Truncated, incomplete: m.Incomplete, undecodable: m.Undecodable}
		switch {
		case m.Undecodable:
			r.length = -1
		case m.Opcode == dissect.OpText && m.TextValid:
			r.payload = followText
			dst = append(dst, m.Payload...)
		case m.Opcode != dissect.OpClose || m.CloseCode == 0:
			r.payload = followData
			dst = append(dst, m.Payload...)
		}
		if m.Opcode == dissect.OpClose && m.CloseCode != 0 {
			r.payload, r.closeCode, r.closeReason = followClose, int(m.CloseCode), validUTF8(m.CloseReason)
		}
		if m.App != nil {
			r.app = newFollowApp(m.App)
		}
		return dst, r, true
	case dissect.KindFinding:
		f := ev.Finding
		r := &followFinding{ts: ts, pkt: ev.Pos.Pkt, severity: f.Severity.String(), code: validUTF8(string(f.Code)), detail: validUTF8(f.Detail)}
		if f.Blame {
			r.from = f.From.String()
		}
		return dst, r, true
	case dissect.KindConnection:
		s := ev.Summary
		return dst, &followEnd{ts: ts, reason: s.Reason.String(), client: s.Client, server: s.Server}, true
	}
	return dst, nil, false
}

func validHeader(h http1.Header) [][2]string {
	out := make([][2]string, len(h))
	for i, f := range h {
		out[i] = [2]string{validUTF8(f.Name), validUTF8(f.Value)}
	}
	return out
}

func newFollowApp(i *app.Info) *followApp {
	a := NewAppRecord(i)
	r := &followApp{protocol: validUTF8(a.Protocol), summary: validUTF8(a.Summary)}
	for _, fr := range a.Frames {
		r.frames = append(r.frames, followHead{validUTF8(fr.Command), validPairs(fr.Headers)})
	}
	for _, p := range a.Packets {
		q := followMQTT{typ: validUTF8(p.Type), topic: validUTF8(p.Topic), clientID: validUTF8(p.ClientID), username: validUTF8(p.Username),
			willTopic: validUTF8(p.WillTopic), properties: validPairs(p.Properties), payloadBytes: len(p.PayloadB64)}
		switch {
		case p.Payload != nil:
			text := validUTF8(*p.Payload)
			q.payload = &text
		case len(p.PayloadB64) == 0:
			q.payloadBytes = -1 // none
		}
		r.packets = append(r.packets, q)
	}
	return r
}

func validPairs(kv [][2]string) [][2]string {
	out := make([][2]string, len(kv))
	for i, p := range kv {
		out[i] = [2]string{validUTF8(p[0]), validUTF8(p[1])}
	}
	return out
}

// WriteRecord prints one record.
func (f *Follow) WriteRecord(rec *Encoded) error {
	conn := rec.Conn
	var ts time.Time
	switch v := rec.Value.(type) {
	case *followHandshake:
		ts = v.ts
	case *followMessage:
		ts = v.ts
	case *followFinding:
		ts = v.ts
	case *followEnd:
		ts = v.ts
	default:
		return nil
	}
	start, ok := f.start[conn]
	if !ok {
		f.start[conn] = ts
		start = ts
	}
	when := fmt.Sprintf("%s (+%s)", ts.UTC().Format("2006-01-02 15:04:05.000000"), ts.Sub(start))
	w := f.w
	if f.Msg > 0 && rec.Kind != dissect.KindMessage {
		return nil // one message only
	}
	switch r := rec.Value.(type) {
	case *followHandshake:
		carrier := ""
		if r.h2Stream != 0 {
			carrier = fmt.Sprintf(" (HTTP/2 stream %d)", r.h2Stream)
		}
		fmt.Fprintf(w, "=== connection %d: %s → %s%s, %s\n", conn, SafeText(r.client, 0), SafeText(r.server, 0), carrier, when)
		if len(r.h2Other) > 0 {
			fmt.Fprintf(w, "other HTTP/2 streams before it: %s\n", SafeText(strings.Join(r.h2Other, ", "), 0))
		}
		if !r.captured {
			fmt.Fprintf(w, "(the handshake was not captured)\n\n")
			break
		}
		for _, h := range r.heads {
			fmt.Fprintf(w, "%s\n", SafeText(h.line, 0))
			for _, kv := range h.headers {
				fmt.Fprintf(w, "%s: %s\n", SafeText(kv[0], 0), SafeText(kv[1], 0))
			}
			fmt.Fprintln(w)
		}
	case *followMessage:
		f.msgs++
		if f.Msg > 0 && f.msgs != f.Msg {
			break
		}
		if f.Msg > 0 && f.MsgOut != nil {
			return f.rawPayload(r, rec.Bytes)
		}
		f.message(r, rec.Bytes, when)
	case *followFinding:
		from := ""
		if r.from != "" {
			from = " (" + r.from + ")"
		}
		fmt.Fprintf(w, "!! %s %s%s%s: %s\n\n", r.severity, r.code, from, pktNote(r.pkt), SafeText(r.detail, 0))
	case *followEnd:
		fmt.Fprintf(w, "=== connection %d ended (%s), %s: client sent %d messages (%d bytes), server %d (%d bytes)\n\n",
			conn, r.reason, when, r.client.Messages, r.client.Bytes, r.server.Messages, r.server.Bytes)
	}
	return nil
}

// appLines prints what the application decoder read, before the payload.
func (f *Follow) appLines(a *followApp) {
	w := f.w
	fmt.Fprintf(w, "[%s] %s\n", a.protocol, SafeText(a.summary, 0))
	for _, fr := range a.frames {
		fmt.Fprintf(w, "  %s\n", SafeText(fr.line, 0))
		for _, h := range fr.headers {
			fmt.Fprintf(w, "  %s:%s\n", SafeText(h[0], 0), SafeText(h[1], 0))
		}
	}
	for _, p := range a.packets {
		var parts []string
		if p.topic != "" {
			parts = append(parts, "topic "+p.topic)
		}
		for _, pr := range p.properties {
			parts = append(parts, pr[0]+"="+pr[1])
		}
		if p.clientID != "" {
			parts = append(parts, "client_id "+p.clientID)
		}
		if p.username != "" {
			parts = append(parts, "username "+p.username)
		}
		if p.willTopic != "" {
			parts = append(parts, "will "+p.willTopic)
		}
		if p.payload != nil {
			parts = append(parts, "payload "+strconv.Quote(*p.payload))
		} else if p.payloadBytes >= 0 {
			parts = append(parts, fmt.Sprintf("payload %d bytes", p.payloadBytes))
		}
		fmt.Fprintf(w, "  %s %s\n", p.typ, SafeText(strings.Join(parts, ", "), 0))
	}
}

func (f *Follow) message(r *followMessage, payload []byte, when string) {
	w := f.w
	arrow := "client → server"
	if r.from == dissect.ServerToClient {
		arrow = "server → client"
	}
	var flags []string
	if r.frames > 1 {
		flags = append(flags, fmt.Sprintf("%d frames", r.frames))
	}
	if r.compressed {
		flags = append(flags, fmt.Sprintf("compressed, %d bytes on the wire", r.wireLength))
	}
	for _, fl := range []struct {
		on   bool
		name string
	}{{r.truncated, "truncated"}, {r.incomplete, "incomplete"}, {r.undecodable, "undecodable"}} {
		if fl.on {
			flags = append(flags, fl.name)
		}
	}
	length := "?"
	if r.length >= 0 {
		length = strconv.FormatInt(r.length, 10)
	}
	extra := ""
	if len(flags) > 0 {
		extra = ", " + strings.Join(flags, ", ")
	}
	fmt.Fprintf(w, "--- %s  %s  %s, %s bytes%s%s\n", when, arrow, r.opcode, length, extra, pktNote(r.pkt))
	if a := r.app; a != nil {
		f.appLines(a)
	}
	switch r.payload {
	case followClose:
		fmt.Fprintf(w, "status %d %s\n", r.closeCode, SafeText(r.closeReason, 0))
	case followText:
		f.text(string(payload))
	case followData:
		b := payload
		rest := 0
		if f.bounded() && len(b) > FollowBinary {
			b, rest = b[:FollowBinary], len(b)-FollowBinary
		}
		if len(b) > 0 {
			io.WriteString(w, hex.Dump(b)) // the dump shows only printable ASCII
		}
		f.more(rest)
	}
	fmt.Fprintln(w)
}

// pktNote names the packet that completed a record, as Wireshark numbers
// it ("" when unknown).
func pktNote(pkt uint64) string {
	if pkt == 0 {
		return ""
	}
	return fmt.Sprintf(" [packet %d]", pkt)
}

// bounded says whether long payloads are cut.
func (f *Follow) bounded() bool { return !f.Full && f.Msg == 0 }

// more says that n bytes of the message were not shown.
func (f *Follow) more(n int) {
	if n > 0 {
		fmt.Fprintf(f.w, "… %d more bytes not shown (--full shows every message whole, --msg %d this one)\n", n, f.msgs)
	}
}

// text prints a text payload line by line, pretty-printing JSON.
// Without Full, it prints at most FollowText bytes (of the pretty-printed
// text; JSON of more than four times that is not pretty-printed).
func (f *Follow) text(s string) {
	if !f.Raw && (!f.bounded() || len(s) <= 4*FollowText) && json.Valid([]byte(s)) && strings.ContainsAny(s, "{[") {
		var buf bytes.Buffer
		if json.Indent(&buf, []byte(s), "", "  ") == nil {
			s = buf.String()
		}
	}
	rest := 0
	if f.bounded() && len(s) > FollowText {
		cut := FollowText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut-- // not inside a rune
		}
		s, rest = s[:cut], len(s)-cut
	}
	for _, line := range strings.Split(s, "\n") {
		fmt.Fprintf(f.w, "%s\n", SafeText(line, 0))
	}
	f.more(rest)
}

// Close flushes the output.
func (f *Follow) Close() error { return f.w.Flush() }

// rawPayload writes a message's payload bytes to MsgOut.
func (f *Follow) rawPayload(r *followMessage, payload []byte) error {
	var b []byte
	switch r.payload {
	case followText, followData:
		b = payload
	case followClose:
		b = []byte(r.closeReason)
	}
	_, err := f.MsgOut.Write(b)
	return err
}

// Finish does nothing: a transcript holds no totals.
func (f *Follow) Finish(*Totals) {}
