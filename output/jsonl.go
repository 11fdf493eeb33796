// Package output turns dissect events into what a person or a program
// reads: a streamed table, JSON Lines, and connection summaries. The JSON
// Lines schema is defined here.
package output

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"io"
	"time"

	"github.com/wscap/wscap/dissect"
)

// TimeFormat is how timestamps are written: RFC 3339, UTC, nanoseconds.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// FormatTime formats a packet timestamp as TimeFormat in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// JSONL writes one JSON object per event and line. The schema is documented
// in README.md; field names may be added, never change meaning.
type JSONL struct {
	w     *bufio.Writer
	enc   *json.Encoder
	files bool // several input files: records carry "file"
	flush bool // flush after every record (live and stdin streaming)
}

// NewJSONL returns a JSONL sink writing to w. multiFile adds a "file" field
// (the 0-based input index) to every record; flush makes every record
// reach w as soon as it is written.
func NewJSONL(w io.Writer, multiFile, flush bool) *JSONL {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &JSONL{w: bw, enc: enc, files: multiFile, flush: flush}
}

// Record heads every JSON line.
type Record struct {
	Kind string `json:"kind"`
	Conn int    `json:"conn,omitempty"`
	TS   string `json:"ts"`
	Pkt  uint64 `json:"pkt,omitempty"`
	File *int   `json:"file,omitempty"`
}

// HandshakeRecord is kind "handshake".
type HandshakeRecord struct {
	Record
	Client              string   `json:"client"`
	Server              string   `json:"server"`
	Captured            bool     `json:"captured"`
	Status              int      `json:"status,omitempty"`
	Method              string   `json:"method,omitempty"`
	Path                string   `json:"path,omitempty"`
	Host                string   `json:"host,omitempty"`
	Origin              string   `json:"origin,omitempty"`
	UserAgent           string   `json:"user_agent,omitempty"`
	ServerHeader        string   `json:"server_header,omitempty"`
	Version             string   `json:"version,omitempty"`
	Key                 string   `json:"key,omitempty"`
	Accept              string   `json:"accept,omitempty"`
	ExpectedAccept      string   `json:"expected_accept,omitempty"`
	AcceptValid         bool     `json:"accept_valid"`
	Subprotocol         string   `json:"subprotocol,omitempty"`
	Extensions          []string `json:"extensions,omitempty"`
	OfferedSubprotocols []string `json:"offered_subprotocols,omitempty"`
	OfferedExtensions   []string `json:"offered_extensions,omitempty"`
}

// MessageRecord is kind "message".
type MessageRecord struct {
	Record
	From        string  `json:"from"`
	Opcode      string  `json:"opcode"`
	Frames      int     `json:"frames"`
	Length      *int64  `json:"length,omitempty"`
	WireLength  int64   `json:"wire_length"`
	Compressed  bool    `json:"compressed"`
	Text        *string `json:"text,omitempty"`
	Data        []byte  `json:"data,omitempty"`
	CloseCode   int     `json:"close_code,omitempty"`
	CloseReason *string `json:"close_reason,omitempty"`
	Truncated   bool    `json:"truncated,omitempty"`
	Incomplete  bool    `json:"incomplete,omitempty"`
	Undecodable bool    `json:"undecodable,omitempty"`
}

// FrameRecord is kind "frame".
type FrameRecord struct {
	Record
	From       string `json:"from"`
	Fin        bool   `json:"fin"`
	RSV        uint8  `json:"rsv"`
	Opcode     string `json:"opcode"`
	Masked     bool   `json:"masked"`
	MaskingKey string `json:"masking_key,omitempty"`
	Length     uint64 `json:"length"`
	HeaderLen  int    `json:"header_length"`
	Data       []byte `json:"data,omitempty"`
	Truncated  bool   `json:"truncated,omitempty"`
}

// FindingRecord is kind "finding".
type FindingRecord struct {
	Record
	Code     string `json:"code"`
	Severity string `json:"severity"`
	RFC      string `json:"rfc,omitempty"`
	From     string `json:"from,omitempty"`
	Detail   string `json:"detail"`
}

// DirRecord is what one direction of a connection sent.
type DirRecord struct {
	Messages    int64          `json:"messages"`
	Bytes       int64          `json:"bytes"`
	WireBytes   int64          `json:"wire_bytes"`
	Frames      int64          `json:"frames"`
	ByOpcode    map[string]int `json:"by_opcode,omitempty"`
	Compressed  int64          `json:"compressed,omitempty"`
	Largest     int64          `json:"largest"`
	CloseCode   int            `json:"close_code,omitempty"`
	CloseReason string         `json:"close_reason,omitempty"`
	Closed      bool           `json:"sent_close"`
}

// ConnectionRecord is kind "connection": emitted when a WebSocket
// connection ends or the input does.
type ConnectionRecord struct {
	Record
	Client      string         `json:"client"`
	Server      string         `json:"server"`
	Host        string         `json:"host,omitempty"`
	Path        string         `json:"path,omitempty"`
	Start       string         `json:"start"`
	DurationSec float64        `json:"duration"`
	End         string         `json:"end"`
	ClosedBy    string         `json:"closed_by,omitempty"`
	FromClient  DirRecord      `json:"client_sent"`
	FromServer  DirRecord      `json:"server_sent"`
	Findings    map[string]int `json:"findings"`
}

func (j *JSONL) head(kind string, ev *dissect.Event) Record {
	r := Record{Kind: kind, TS: FormatTime(ev.Pos.TS), Pkt: ev.Pos.Pkt}
	if ev.Conn != nil {
		r.Conn = ev.Conn.ID
	}
	if j.files {
		f := ev.Pos.File
		r.File = &f
	}
	return r
}

// Emit writes one event.
func (j *JSONL) Emit(ev *dissect.Event) error {
	var v any
	switch ev.Kind {
	case dissect.KindHandshake:
		v = j.handshake(ev)
	case dissect.KindMessage:
		v = j.message(ev)
	case dissect.KindFrame:
		v = j.frame(ev)
	case dissect.KindFinding:
		f := ev.Finding
		r := FindingRecord{Record: j.head("finding", ev), Code: string(f.Code), Severity: f.Severity.String(), RFC: f.RFC, Detail: f.Detail}
		if f.Blame {
			r.From = f.From.String()
		}
		v = r
	case dissect.KindConnection:
		v = j.connection(ev)
	default:
		return nil
	}
	if err := j.enc.Encode(v); err != nil {
		return err
	}
	if j.flush {
		return j.w.Flush()
	}
	return nil
}

// WriteValue writes one extra JSON object as a line (the run's final
// counters).
func (j *JSONL) WriteValue(v any) error { return j.enc.Encode(v) }

// Close flushes buffered output.
func (j *JSONL) Close() error { return j.w.Flush() }

func (j *JSONL) handshake(ev *dissect.Event) HandshakeRecord {
	h := ev.Handshake
	r := HandshakeRecord{Record: j.head("handshake", ev), Client: ev.Conn.Client.String(), Server: ev.Conn.Server.String(),
		Captured: h.Captured, Status: h.Status, Method: h.Method, Path: h.Path, Host: h.Host, Origin: h.Origin,
		UserAgent: h.UserAgent, ServerHeader: h.Server, Version: h.Version, Key: h.Key, Accept: h.Accept,
		ExpectedAccept: h.ExpectedAccept, AcceptValid: h.AcceptValid, Subprotocol: h.Subprotocol,
		OfferedSubprotocols: h.OfferedSubprotocols}
	r.Extensions = extStrings(h.Extensions)
	r.OfferedExtensions = extStrings(h.OfferedExtensions)
	return r
}

func extStrings(exts []dissect.Extension) []string {
	if len(exts) == 0 {
		return nil
	}
	s := make([]string, len(exts))
	for i, e := range exts {
		s[i] = e.String()
	}
	return s
}

func (j *JSONL) message(ev *dissect.Event) MessageRecord {
	m := ev.Message
	r := MessageRecord{Record: j.head("message", ev), From: m.From.String(), Opcode: m.Opcode.String(), Frames: m.Frames,
		WireLength: m.WireLength, Compressed: m.Compressed, Truncated: m.Truncated, Incomplete: m.Incomplete, Undecodable: m.Undecodable}
	if !m.Undecodable {
		l := m.Length
		r.Length = &l
		if m.Opcode == dissect.OpText && m.TextValid {
			t := string(m.Payload)
			r.Text = &t
		} else if m.Opcode != dissect.OpClose || m.CloseCode == 0 {
			r.Data = nonNil(m.Payload)
		}
	}
	if m.Opcode == dissect.OpClose && m.CloseCode != 0 {
		r.CloseCode = m.CloseCode
		reason := m.CloseReason
		r.CloseReason = &reason
	}
	return r
}

// nonNil makes an empty payload appear as "data": "" rather than vanish.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (j *JSONL) frame(ev *dissect.Event) FrameRecord {
	f := ev.Frame
	r := FrameRecord{Record: j.head("frame", ev), From: f.From.String(), Fin: f.Fin, RSV: f.RSV, Opcode: f.Opcode.String(),
		Masked: f.Masked, Length: f.Length, HeaderLen: f.HeaderLen, Data: nonNil(f.Payload), Truncated: f.Truncated}
	if f.Masked {
		r.MaskingKey = hex.EncodeToString(f.Key[:])
	}
	return r
}

func dirRecord(s *dissect.DirStats) DirRecord {
	r := DirRecord{Messages: s.Messages, Bytes: s.Bytes, WireBytes: s.WireBytes, Frames: s.Frames, Compressed: s.Compressed,
		Largest: s.Largest, CloseCode: s.CloseCode, CloseReason: s.CloseReason, Closed: s.CloseSent}
	for op, n := range s.ByOpcode {
		if n > 0 {
			if r.ByOpcode == nil {
				r.ByOpcode = make(map[string]int)
			}
			r.ByOpcode[dissect.Opcode(op).String()] = int(n)
		}
	}
	return r
}

func (j *JSONL) connection(ev *dissect.Event) ConnectionRecord {
	s := ev.Summary
	r := ConnectionRecord{Record: j.head("connection", ev), Client: ev.Conn.Client.String(), Server: ev.Conn.Server.String(),
		Start: FormatTime(s.Start.TS), End: s.Reason.String(), DurationSec: s.End.TS.Sub(s.Start.TS).Seconds(),
		FromClient: dirRecord(&s.Client), FromServer: dirRecord(&s.Server),
		Findings: map[string]int{"error": int(s.Findings[dissect.Error]), "warning": int(s.Findings[dissect.Warning]), "info": int(s.Findings[dissect.Info])}}
	if s.Handshake != nil {
		r.Host, r.Path = s.Handshake.Host, s.Handshake.Path
	}
	if s.ClosedFirst {
		r.ClosedBy = s.ClosedBy.String()
	}
	return r
}
