// Package output turns dissect events into what a person or a program
// reads: a streamed table, JSON Lines, and connection summaries. The JSON
// Lines schema is defined here.
package output

import (
	"bufio"
	"encoding/json"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wscap/wscap/dissect"
	"github.com/wscap/wscap/dissect/http1"
)

// TimeFormat is how timestamps are written: RFC 3339, UTC, nanoseconds.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// FormatTime formats a packet timestamp as TimeFormat in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// JSONL writes one JSON object per event and line. The schema is documented
// in README.md and defined by the Record types below; field names may be
// added, never change meaning.
//
// Encoding is split in two so that it can run on several cores: a
// JSONLEncoder (one per pipeline shard) appends the body of each record
// after its "conn" field, and JSONL (one per run) writes records in order
// with their kind and final connection number.
type JSONL struct {
	num   []byte // scratch for the connection number
	w     *bufio.Writer
	enc   JSONLEncoder
	buf   []byte
	flush bool
}

// NewJSONL returns a JSONL writer to w. multiFile adds a "file" field (the
// 0-based input index) to every record; flush makes every record reach w
// as soon as it is written.
func NewJSONL(w io.Writer, multiFile, flush bool) *JSONL {
	return &JSONL{w: bufio.NewWriterSize(w, 64<<10), enc: JSONLEncoder{MultiFile: multiFile}, flush: flush}
}

// Encoder returns the encoder whose output WriteRecord takes.
func (j *JSONL) Encoder() Encoder { return &JSONLEncoder{MultiFile: j.enc.MultiFile} }

// Emit encodes and writes one event (a dissect.Sink for a single shard).
func (j *JSONL) Emit(ev *dissect.Event) error {
	j.buf = j.enc.AppendRecord(j.buf[:0], ev)
	if j.buf == nil {
		return nil
	}
	conn := 0
	if ev.Conn != nil {
		conn = ev.Conn.ID
	}
	return j.write(ev.Kind, conn, j.buf)
}

// WriteRecord writes a record encoded by a JSONLEncoder, with its kind and
// connection number.
func (j *JSONL) WriteRecord(r *Encoded) error { return j.write(r.Kind, r.Conn, r.Bytes) }

func (j *JSONL) write(kind dissect.Kind, conn int, body []byte) error {
	j.w.WriteString(`{"kind":"`)
	j.w.WriteString(kind.String())
	j.w.WriteString(`","conn":`)
	j.num = strconv.AppendInt(j.num[:0], int64(conn), 10)
	j.w.Write(j.num)
	_, err := j.w.Write(body)
	if err == nil && j.flush {
		err = j.w.Flush()
	}
	return err
}

// Flush writes out what is buffered (pipeline.Options.FlushWriter).
func (j *JSONL) Flush() error { return j.w.Flush() }

// WriteValue writes one extra JSON object as a line (the run's totals).
func (j *JSONL) WriteValue(v any) error {
	enc := json.NewEncoder(j.w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Finish ends the output with the run's totals record.
func (j *JSONL) Finish(t *Totals) { j.WriteValue(t.Record) }

// Close flushes buffered output.
func (j *JSONL) Close() error { return j.w.Flush() }

// JSONLEncoder appends JSON Lines record bodies: everything after the
// "conn" field, through the closing brace and newline.
type JSONLEncoder struct {
	MultiFile bool
	// NoPayload leaves out the payload of messages and frames ("text",
	// "data"); their lengths stay.
	NoPayload bool
	// The record times of one second share their text up to the fraction:
	// the last second's is kept.
	sec     int64
	secText []byte // `"2006-01-02T15:04:05.`
}

// appendTime is appendTime with the text of the last second kept.
func (e *JSONLEncoder) appendTime(dst []byte, t time.Time) []byte {
	if sec := t.Unix(); sec != e.sec || e.secText == nil {
		start := len(dst)
		dst = appendTime(dst, t)
		e.sec, e.secText = sec, append(e.secText[:0], dst[start:len(dst)-11]...)
		return dst
	}
	dst = append(dst, e.secText...)
	dst = appendDigits(dst, t.Nanosecond(), 9)
	return append(dst, 'Z', '"')
}

// Encode appends ev's record body: the record is bytes only.
func (e *JSONLEncoder) Encode(dst []byte, ev *dissect.Event) ([]byte, any, bool) {
	out := e.AppendRecord(dst, ev)
	return out, nil, out != nil
}

// AppendRecord appends ev's record body, or returns nil when ev has none.
func (e *JSONLEncoder) AppendRecord(dst []byte, ev *dissect.Event) []byte {
	if dst == nil {
		dst = make([]byte, 0, 512)
	}
	dst = appendKey(dst, "ts")
	dst = e.appendTime(dst, ev.Pos.TS)
	dst = appendOptInt(dst, "pkt", int64(ev.Pos.Pkt))
	if e.MultiFile {
		dst = appendInt(dst, "file", int64(ev.Pos.File))
	}
	dst = appendOptInt(dst, "h2_stream", int64(ev.Conn.H2Stream))
	switch ev.Kind {
	case dissect.KindHandshake:
		dst = appendHandshake(dst, ev)
	case dissect.KindMessage:
		dst = appendMessage(dst, ev.Message, e.NoPayload)
	case dissect.KindFrame:
		dst = appendFrame(dst, ev.Frame, e.NoPayload)
	case dissect.KindFinding:
		f := ev.Finding
		dst = appendStrField(dst, "code", string(f.Code))
		dst = appendStrField(dst, "severity", f.Severity.String())
		dst = appendOptStr(dst, "rfc", f.RFC)
		if f.Blame {
			dst = appendStrField(dst, "from", f.From.String())
		}
		dst = appendStrField(dst, "detail", f.Detail)
	case dissect.KindConnection:
		dst = appendConnection(dst, ev)
	default:
		return nil
	}
	return append(dst, '}', '\n')
}

// appendAddr appends "ip:port" ("[ip]:port" for IPv6) without allocating.
func appendAddr(dst []byte, key string, a netip.AddrPort) []byte {
	dst = append(appendKey(dst, key), '"')
	dst = a.AppendTo(dst)
	return append(dst, '"')
}

func appendHandshake(dst []byte, ev *dissect.Event) []byte {
	h := ev.Handshake
	dst = appendAddr(dst, "client", ev.Conn.Client)
	dst = appendAddr(dst, "server", ev.Conn.Server)
	dst = appendBool(dst, "captured", h.Captured)
	dst = appendOptBool(dst, "head_cut", h.Cut)
	dst = appendOptInt(dst, "status", int64(h.Status))
	dst = appendOptStr(dst, "method", h.Method)
	dst = appendOptStr(dst, "path", h.Path)
	dst = appendOptStr(dst, "host", h.Host)
	dst = appendOptStr(dst, "origin", h.Origin)
	dst = appendOptStr(dst, "user_agent", h.UserAgent)
	dst = appendOptStr(dst, "server_header", h.Server)
	dst = appendOptStr(dst, "version", h.Version)
	dst = appendOptStr(dst, "key", h.Key)
	dst = appendOptStr(dst, "accept", h.Accept)
	dst = appendOptStr(dst, "expected_accept", h.ExpectedAccept)
	dst = appendBool(dst, "accept_valid", h.AcceptValid)
	dst = appendOptStr(dst, "subprotocol", h.Subprotocol)
	dst = appendExtensions(dst, "extensions", h.Extensions)
	dst = appendStrings(dst, "offered_subprotocols", h.OfferedSubprotocols)
	dst = appendExtensions(dst, "offered_extensions", h.OfferedExtensions)
	if h.H2 != nil {
		dst = appendStrings(dst, "h2_other_streams", h.H2.Other)
	}
	if x := h.TLS; x != nil {
		dst = append(appendKey(dst, "tls"), '{')
		n := len(dst)
		dst = appendOptStr(dst, "version", x.Version)
		dst = appendOptStr(dst, "cipher_suite", x.CipherSuite)
		dst = appendOptStr(dst, "sni", x.SNI)
		dst = appendOptStr(dst, "alpn", x.ALPN)
		dst = appendBool(dst, "resumed", x.Resumed)
		dst = appendBool(dst, "decrypted", x.Decrypted)
		if dst[n] == ',' {
			dst = append(dst[:n], dst[n+1:]...)
		}
		dst = append(dst, '}')
	}
	if r := h.Request; r != nil {
		dst = appendHead(dst, "request", r.Method+" "+r.Target+" "+r.Proto, r.Header)
	}
	if r := h.Response; r != nil {
		line := r.Proto + " " + strconv.Itoa(r.Status)
		if r.Reason != "" {
			line += " " + r.Reason
		}
		dst = appendHead(dst, "response", line, r.Header)
	}
	return dst
}

// appendHead appends an HTTP head as {"line": ..., "headers": [[name, value], ...]}.
func appendHead(dst []byte, key, line string, h http1.Header) []byte {
	dst = append(appendKey(dst, key), `{"line":`...)
	dst = appendString(dst, line)
	dst = append(dst, `,"headers":[`...)
	for i, f := range h {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = appendString(dst, f.Name)
		dst = append(dst, ',')
		dst = appendString(dst, f.Value)
		dst = append(dst, ']')
	}
	return append(dst, ']', '}')
}

func appendMessage(dst []byte, m *dissect.Message, noPayload bool) []byte {
	dst = appendStrField(dst, "from", m.From.String())
	dst = appendStrField(dst, "opcode", m.Opcode.String())
	dst = appendInt(dst, "frames", int64(m.Frames))
	if !m.Undecodable {
		dst = appendInt(dst, "length", m.Length)
	}
	dst = appendInt(dst, "wire_length", m.WireLength)
	dst = appendBool(dst, "compressed", m.Compressed)
	if !m.Undecodable && !noPayload {
		switch {
		case m.Opcode == dissect.OpText && m.TextValid:
			dst = appendValidText(appendKey(dst, "text"), m.Payload)
		case m.Opcode != dissect.OpClose || m.CloseCode == 0:
			dst = appendBase64(dst, "data", m.Payload)
		}
	}
	if m.Opcode == dissect.OpClose && m.CloseCode != 0 {
		dst = appendInt(dst, "close_code", int64(m.CloseCode))
		dst = appendStrField(dst, "close_reason", m.CloseReason)
	}
	dst = appendOptBool(dst, "truncated", m.Truncated)
	dst = appendOptBool(dst, "incomplete", m.Incomplete)
	dst = appendOptBool(dst, "undecodable", m.Undecodable)
	if m.App != nil {
		dst = appendApp(dst, m.App)
	}
	return dst
}

func appendFrame(dst []byte, f *dissect.Frame, noPayload bool) []byte {
	dst = appendStrField(dst, "from", f.From.String())
	dst = appendBool(dst, "fin", f.Fin)
	dst = appendInt(dst, "rsv", int64(f.RSV))
	dst = appendStrField(dst, "opcode", f.Opcode.String())
	dst = appendBool(dst, "masked", f.Masked)
	if f.Masked {
		dst = appendHex(dst, "masking_key", f.Key[:])
	}
	dst = appendInt(dst, "length", int64(f.Length))
	dst = appendInt(dst, "header_length", int64(f.HeaderLen))
	if !noPayload {
		dst = appendBase64(dst, "data", f.Payload)
	}
	return appendOptBool(dst, "truncated", f.Truncated)
}

// opcodesByName lists the 16 opcodes sorted by their names, the order in
// which encoding/json writes the keys of a map.
var opcodesByName = func() []dissect.Opcode {
	ops := make([]dissect.Opcode, 16)
	for i := range ops {
		ops[i] = dissect.Opcode(i)
	}
	slices.SortFunc(ops, func(a, b dissect.Opcode) int { return strings.Compare(a.String(), b.String()) })
	return ops
}()

func appendDir(dst []byte, key string, s *dissect.DirStats) []byte {
	dst = append(appendKey(dst, key), `{"messages":`...)
	dst = strconv.AppendInt(dst, s.Messages, 10)
	dst = appendInt(dst, "bytes", s.Bytes)
	dst = appendInt(dst, "wire_bytes", s.WireBytes)
	dst = appendInt(dst, "frames", s.Frames)
	first := true
	for _, op := range opcodesByName {
		c := s.ByOpcode[op]
		if c == 0 {
			continue
		}
		if first {
			dst = append(appendKey(dst, "by_opcode"), '{')
			first = false
		} else {
			dst = append(dst, ',')
		}
		dst = appendString(dst, dissect.Opcode(op).String())
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, int64(c), 10)
	}
	if !first {
		dst = append(dst, '}')
	}
	dst = appendOptInt(dst, "compressed", s.Compressed)
	dst = appendInt(dst, "largest", s.Largest)
	dst = appendOptInt(dst, "close_code", int64(s.CloseCode))
	dst = appendOptStr(dst, "close_reason", s.CloseReason)
	dst = appendBool(dst, "sent_close", s.CloseSent)
	return append(dst, '}')
}

func appendConnection(dst []byte, ev *dissect.Event) []byte {
	s := ev.Summary
	cl, sv := ev.Conn.Client, ev.Conn.Server
	dst = appendAddr(dst, "client", cl)
	dst = appendAddr(dst, "server", sv)
	// The endpoints split, and the Community ID, as Zeek, Suricata and
	// Arkime records have them (to join with).
	dst = appendStrField(dst, "client_ip", cl.Addr().Unmap().String())
	dst = appendInt(dst, "client_port", int64(cl.Port()))
	dst = appendStrField(dst, "server_ip", sv.Addr().Unmap().String())
	dst = appendInt(dst, "server_port", int64(sv.Port()))
	dst = appendStrField(dst, "community_id", CommunityID(cl, sv))
	if h := s.Handshake; h != nil {
		dst = appendOptStr(dst, "host", h.Host)
		dst = appendOptStr(dst, "path", h.Path)
		dst = appendBool(dst, "captured", h.Captured)
		dst = appendOptInt(dst, "status", int64(h.Status))
		if h.Captured && h.Status == 101 {
			dst = appendBool(dst, "accept_valid", h.AcceptValid)
		}
		dst = appendOptStr(dst, "subprotocol", h.Subprotocol)
		dst = appendExtensions(dst, "extensions", h.Extensions)
	}
	dst = appendKey(dst, "start")
	dst = appendTime(dst, s.Start.TS)
	dst = appendFloat(dst, "duration", s.Duration.Seconds())
	dst = appendStrField(dst, "end", s.Reason.String())
	if s.ClosedFirst {
		dst = appendStrField(dst, "closed_by", s.ClosedBy.String())
	}
	dst = appendDir(dst, "client_sent", &s.Client)
	dst = appendDir(dst, "server_sent", &s.Server)
	if r := &s.RTT; r.Count > 0 {
		dst = append(appendKey(dst, "rtt"), `{"count":`...)
		dst = strconv.AppendInt(dst, r.Count, 10)
		dst = appendFloat(dst, "min_ms", float64(r.Min.Microseconds())/1000)
		dst = appendFloat(dst, "median_ms", float64(r.Median().Microseconds())/1000)
		dst = appendFloat(dst, "max_ms", float64(r.Max.Microseconds())/1000)
		dst = append(dst, '}')
	}
	if a := s.App; a != nil {
		dst = append(appendKey(dst, "app"), `{"protocol":`...)
		dst = appendString(dst, a.Protocol)
		if len(a.Top) > 0 {
			dst = append(dst, `,"top":[`...)
			for i, nc := range a.Top {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, '[')
				dst = appendString(dst, nc.Name)
				dst = append(dst, ',')
				dst = strconv.AppendInt(dst, nc.Count, 10)
				dst = append(dst, ']')
			}
			dst = append(dst, ']')
		}
		if r := &a.Latency; r.Count > 0 {
			dst = append(dst, `,"latency":{"count":`...)
			dst = strconv.AppendInt(dst, r.Count, 10)
			dst = appendFloat(dst, "min_ms", float64(r.Min.Microseconds())/1000)
			dst = appendFloat(dst, "median_ms", float64(r.Median().Microseconds())/1000)
			dst = appendFloat(dst, "max_ms", float64(r.Max.Microseconds())/1000)
			dst = append(dst, '}')
		}
		dst = append(dst, '}')
	}
	dst = append(appendKey(dst, "findings"), `{"error":`...)
	dst = strconv.AppendInt(dst, s.Findings[dissect.SeverityError], 10)
	dst = append(dst, `,"info":`...)
	dst = strconv.AppendInt(dst, s.Findings[dissect.SeverityInfo], 10)
	dst = append(dst, `,"warning":`...)
	dst = strconv.AppendInt(dst, s.Findings[dissect.SeverityWarning], 10)
	return append(dst, '}')
}

// Record heads every JSON line.
type Record struct {
	Kind string `json:"kind"`
	Conn int    `json:"conn,omitempty"`
	TS   string `json:"ts"`
	Pkt  uint64 `json:"pkt,omitempty"`
	File *int   `json:"file,omitempty"`
	// H2Stream is the HTTP/2 stream of a WebSocket over HTTP/2.
	H2Stream uint32 `json:"h2_stream,omitempty"`
}

// HandshakeRecord is kind "handshake".
type HandshakeRecord struct {
	Record
	Client              string      `json:"client"`
	Server              string      `json:"server"`
	Captured            bool        `json:"captured"`
	HeadCut             bool        `json:"head_cut,omitempty"`
	Status              int         `json:"status,omitempty"`
	Method              string      `json:"method,omitempty"`
	Path                string      `json:"path,omitempty"`
	Host                string      `json:"host,omitempty"`
	Origin              string      `json:"origin,omitempty"`
	UserAgent           string      `json:"user_agent,omitempty"`
	ServerHeader        string      `json:"server_header,omitempty"`
	Version             string      `json:"version,omitempty"`
	Key                 string      `json:"key,omitempty"`
	Accept              string      `json:"accept,omitempty"`
	ExpectedAccept      string      `json:"expected_accept,omitempty"`
	AcceptValid         bool        `json:"accept_valid"`
	Subprotocol         string      `json:"subprotocol,omitempty"`
	Extensions          []string    `json:"extensions,omitempty"`
	OfferedSubprotocols []string    `json:"offered_subprotocols,omitempty"`
	OfferedExtensions   []string    `json:"offered_extensions,omitempty"`
	H2OtherStreams      []string    `json:"h2_other_streams,omitempty"`
	TLS                 *TLSRecord  `json:"tls,omitempty"`
	Request             *HeadRecord `json:"request,omitempty"`
	Response            *HeadRecord `json:"response,omitempty"`
}

// TLSRecord is the TLS layer of a wss:// connection decrypted with a key
// log.
type TLSRecord struct {
	Version     string `json:"version,omitempty"`
	CipherSuite string `json:"cipher_suite,omitempty"`
	SNI         string `json:"sni,omitempty"`
	ALPN        string `json:"alpn,omitempty"`
	Resumed     bool   `json:"resumed"`
	Decrypted   bool   `json:"decrypted"`
}

// HeadRecord is an HTTP head as it was sent: its first line and its header
// fields in order, each as [name, value].
type HeadRecord struct {
	Line    string      `json:"line"`
	Headers [][2]string `json:"headers"`
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
	Data        *[]byte `json:"data,omitempty"`
	CloseCode   int     `json:"close_code,omitempty"`
	CloseReason *string `json:"close_reason,omitempty"`
	Truncated   bool    `json:"truncated,omitempty"`
	Incomplete  bool    `json:"incomplete,omitempty"`
	Undecodable bool    `json:"undecodable,omitempty"`
	// App is what the application protocol decoder read.
	App *AppRecord `json:"app,omitempty"`
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
	Data       []byte `json:"data"`
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

// RTTRecord summarises ping→pong round trips in milliseconds.
type RTTRecord struct {
	Count  int64   `json:"count"`
	Min    float64 `json:"min_ms"`
	Median float64 `json:"median_ms"`
	Max    float64 `json:"max_ms"`
}

// AppConnRecord is a connection's application protocol: its busiest
// names (events, topics, destinations, methods) with their counts, and the
// JSON-RPC or GraphQL response latencies.
type AppConnRecord struct {
	Protocol string     `json:"protocol"`
	Top      [][2]any   `json:"top,omitempty"`
	Latency  *RTTRecord `json:"latency,omitempty"`
}

// ConnectionRecord is kind "connection": emitted when a WebSocket
// connection ends or the input does.
type ConnectionRecord struct {
	Record
	Client      string         `json:"client"`
	Server      string         `json:"server"`
	ClientIP    string         `json:"client_ip"`
	ClientPort  uint16         `json:"client_port"`
	ServerIP    string         `json:"server_ip"`
	ServerPort  uint16         `json:"server_port"`
	CommunityID string         `json:"community_id"`
	Host        string         `json:"host,omitempty"`
	Path        string         `json:"path,omitempty"`
	Captured    bool           `json:"captured"`
	Status      int            `json:"status,omitempty"`
	AcceptValid *bool          `json:"accept_valid,omitempty"`
	Subprotocol string         `json:"subprotocol,omitempty"`
	Extensions  []string       `json:"extensions,omitempty"`
	Start       string         `json:"start"`
	DurationSec float64        `json:"duration"`
	End         string         `json:"end"`
	ClosedBy    string         `json:"closed_by,omitempty"`
	FromClient  DirRecord      `json:"client_sent"`
	FromServer  DirRecord      `json:"server_sent"`
	RTT         *RTTRecord     `json:"rtt,omitempty"`
	App         *AppConnRecord `json:"app,omitempty"`
	Findings    map[string]int `json:"findings"`
}
