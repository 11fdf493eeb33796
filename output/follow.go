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
)

// Follow prints the conversation of connections as a readable transcript,
// like Wireshark's Follow Stream: the handshake heads, then every message
// with its direction and time, text as text (JSON pretty-printed unless
// Raw), binary as a hex dump, findings inline. Every byte that could act on
// a terminal is escaped. It takes records encoded by a JSONLEncoder.
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
func (f *Follow) Encoder() Encoder { return &JSONLEncoder{} }

type followRecord struct {
	MessageRecord
	Client, Server string
	Request        *HeadRecord
	Response       *HeadRecord
	Captured       bool
	Code, Severity string
	Detail         string
	End            string
	ClientSent     DirRecord `json:"client_sent"`
	ServerSent     DirRecord `json:"server_sent"`
	Status         int
	H2Other        []string `json:"h2_other_streams"`
}

// WriteRecord prints one record.
func (f *Follow) WriteRecord(rec *Encoded) error {
	kind, conn, body := rec.Kind, rec.Conn, rec.Bytes
	var r followRecord
	full := append([]byte(`{"kind":"`+kind.String()+`","conn":`+strconv.Itoa(conn)), body...)
	if err := json.Unmarshal(full, &r); err != nil {
		return fmt.Errorf("output: follow: %w", err)
	}
	ts, _ := time.Parse(time.RFC3339Nano, r.TS)
	start, ok := f.start[conn]
	if !ok {
		f.start[conn] = ts
		start = ts
	}
	when := fmt.Sprintf("%s (+%s)", ts.UTC().Format("2006-01-02 15:04:05.000000"), ts.Sub(start))
	w := f.w
	if f.Msg > 0 && kind != dissect.KindMessage {
		return nil // one message only
	}
	switch kind {
	case dissect.KindHandshake:
		carrier := ""
		if r.H2Stream != 0 {
			carrier = fmt.Sprintf(" (HTTP/2 stream %d)", r.H2Stream)
		}
		fmt.Fprintf(w, "=== connection %d: %s → %s%s, %s\n", conn, SafeText(r.Client, 0), SafeText(r.Server, 0), carrier, when)
		if len(r.H2Other) > 0 {
			fmt.Fprintf(w, "other HTTP/2 streams before it: %s\n", SafeText(strings.Join(r.H2Other, ", "), 0))
		}
		if !r.Captured {
			fmt.Fprintf(w, "(the handshake was not captured)\n\n")
			break
		}
		for _, h := range []*HeadRecord{r.Request, r.Response} {
			if h == nil {
				continue
			}
			fmt.Fprintf(w, "%s\n", SafeText(h.Line, 0))
			for _, kv := range h.Headers {
				fmt.Fprintf(w, "%s: %s\n", SafeText(kv[0], 0), SafeText(kv[1], 0))
			}
			fmt.Fprintln(w)
		}
	case dissect.KindMessage:
		f.msgs++
		if f.Msg > 0 && f.msgs != f.Msg {
			break
		}
		if f.Msg > 0 && f.MsgOut != nil {
			return f.rawPayload(&r)
		}
		f.message(&r, when)
	case dissect.KindFinding:
		from := ""
		if r.From != "" {
			from = " (" + r.From + ")"
		}
		fmt.Fprintf(w, "!! %s %s%s%s: %s\n\n", r.Severity, r.Code, from, pktNote(r.Pkt), SafeText(r.Detail, 0))
	case dissect.KindConnection:
		fmt.Fprintf(w, "=== connection %d ended (%s), %s: client sent %d messages (%d bytes), server %d (%d bytes)\n\n",
			conn, r.End, when, r.ClientSent.Messages, r.ClientSent.Bytes, r.ServerSent.Messages, r.ServerSent.Bytes)
	}
	return nil
}

// appLines prints what the application decoder read, before the payload.
func (f *Follow) appLines(a *AppRecord) {
	w := f.w
	fmt.Fprintf(w, "[%s] %s\n", a.Protocol, SafeText(a.Summary, 0))
	for _, fr := range a.Frames {
		fmt.Fprintf(w, "  %s\n", SafeText(fr.Command, 0))
		for _, h := range fr.Headers {
			fmt.Fprintf(w, "  %s:%s\n", SafeText(h[0], 0), SafeText(h[1], 0))
		}
	}
	for _, p := range a.Packets {
		var parts []string
		if p.Topic != "" {
			parts = append(parts, "topic "+p.Topic)
		}
		for _, pr := range p.Properties {
			parts = append(parts, pr[0]+"="+pr[1])
		}
		if p.ClientID != "" {
			parts = append(parts, "client_id "+p.ClientID)
		}
		if p.Username != "" {
			parts = append(parts, "username "+p.Username)
		}
		if p.WillTopic != "" {
			parts = append(parts, "will "+p.WillTopic)
		}
		if p.Payload != nil {
			parts = append(parts, "payload "+strconv.Quote(*p.Payload))
		} else if p.PayloadB64 != nil {
			parts = append(parts, fmt.Sprintf("payload %d bytes", len(p.PayloadB64)))
		}
		fmt.Fprintf(w, "  %s %s\n", p.Type, SafeText(strings.Join(parts, ", "), 0))
	}
}

func (f *Follow) message(r *followRecord, when string) {
	w := f.w
	arrow := "client → server"
	if r.From == "server" {
		arrow = "server → client"
	}
	var flags []string
	if r.Frames > 1 {
		flags = append(flags, fmt.Sprintf("%d frames", r.Frames))
	}
	if r.Compressed {
		flags = append(flags, fmt.Sprintf("compressed, %d bytes on the wire", r.WireLength))
	}
	for _, fl := range []struct {
		on   bool
		name string
	}{{r.Truncated, "truncated"}, {r.Incomplete, "incomplete"}, {r.Undecodable, "undecodable"}} {
		if fl.on {
			flags = append(flags, fl.name)
		}
	}
	length := "?"
	if r.Length != nil {
		length = strconv.FormatInt(*r.Length, 10)
	}
	extra := ""
	if len(flags) > 0 {
		extra = ", " + strings.Join(flags, ", ")
	}
	fmt.Fprintf(w, "--- %s  %s  %s, %s bytes%s%s\n", when, arrow, r.Opcode, length, extra, pktNote(r.Pkt))
	if a := r.App; a != nil {
		f.appLines(a)
	}
	switch {
	case r.CloseCode != 0:
		reason := ""
		if r.CloseReason != nil {
			reason = *r.CloseReason
		}
		fmt.Fprintf(w, "status %d %s\n", r.CloseCode, SafeText(reason, 0))
	case r.Text != nil:
		f.text(*r.Text)
	case r.Data != nil:
		b := *r.Data
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
func (f *Follow) rawPayload(r *followRecord) error {
	var b []byte
	switch {
	case r.Text != nil:
		b = []byte(*r.Text)
	case r.Data != nil:
		b = *r.Data
	case r.CloseReason != nil:
		b = []byte(*r.CloseReason)
	}
	_, err := f.MsgOut.Write(b)
	return err
}

// Finish does nothing: a transcript holds no totals.
func (f *Follow) Finish(*Totals) {}
