package output

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wscap/wscap/dissect"
)

// HAR writes a HAR 1.2 document (http://www.softwareishard.com/blog/har-12-spec/)
// with one entry per WebSocket handshake and its messages in the
// "_webSocketMessages" array, as Chrome DevTools exports them, so that
// sessions taken from a capture open in tools that read HAR. Entries are
// written as their connections end; the messages of open connections are
// held until then. Its encoder makes the entries and messages on the
// shards; the writer collects them by connection.
type HAR struct {
	w       *bufio.Writer
	version string
	open    map[int]*harEntry
	n       int
}

// NewHAR returns a HAR writer; version names wscap in the creator field.
func NewHAR(w io.Writer, version string) *HAR {
	return &HAR{w: bufio.NewWriter(w), version: version, open: map[int]*harEntry{}}
}

// Encoder returns the encoder whose records WriteRecord takes.
func (h *HAR) Encoder() Encoder { return harEncoder{} }

type harNV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type harEntry struct {
	StartedDateTime string         `json:"startedDateTime"`
	Time            float64        `json:"time"`
	Request         harRequest     `json:"request"`
	Response        harResponse    `json:"response"`
	Cache           struct{}       `json:"cache"`
	Timings         harTimings     `json:"timings"`
	ServerIPAddress string         `json:"serverIPAddress,omitempty"`
	Connection      string         `json:"connection,omitempty"`
	ResourceType    string         `json:"_resourceType"`
	Messages        []harWSMessage `json:"_webSocketMessages"`
	start           time.Time
}

type harRequest struct {
	Method      string  `json:"method"`
	URL         string  `json:"url"`
	HTTPVersion string  `json:"httpVersion"`
	Cookies     []harNV `json:"cookies"`
	Headers     []harNV `json:"headers"`
	QueryString []harNV `json:"queryString"`
	HeadersSize int     `json:"headersSize"`
	BodySize    int     `json:"bodySize"`
}

type harResponse struct {
	Status      int        `json:"status"`
	StatusText  string     `json:"statusText"`
	HTTPVersion string     `json:"httpVersion"`
	Cookies     []harNV    `json:"cookies"`
	Headers     []harNV    `json:"headers"`
	Content     harContent `json:"content"`
	RedirectURL string     `json:"redirectURL"`
	HeadersSize int        `json:"headersSize"`
	BodySize    int        `json:"bodySize"`
}

type harContent struct {
	Size     int    `json:"size"`
	MimeType string `json:"mimeType"`
}

type harTimings struct {
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
}

// harWSMessage is one message as Chrome writes it: type "send" (from the
// client) or "receive", time in seconds since the epoch, opcode, data (text,
// or base64 for other opcodes).
type harWSMessage struct {
	Type   string  `json:"type"`
	Time   float64 `json:"time"`
	Opcode int     `json:"opcode"`
	Data   string  `json:"data"`
}

// harEncoder makes HAR's records: a handshake's *harEntry, a message's
// *harWSMessage, a connection end's time (a *time.Time).
type harEncoder struct{}

func (harEncoder) Encode(dst []byte, ev *dissect.Event) ([]byte, any, bool) {
	ts := ev.Pos.TS
	switch ev.Kind {
	case dissect.KindHandshake:
		return dst, harHandshake(ev), true
	case dissect.KindMessage:
		m := ev.Message
		if m.Undecodable {
			return dst, nil, false
		}
		hm := &harWSMessage{Type: "receive", Time: float64(ts.UnixNano()) / 1e9, Opcode: opcodeNumber(m.Opcode.String())}
		if m.From == dissect.ClientToServer {
			hm.Type = "send"
		}
		switch {
		case m.Opcode == dissect.OpText && m.TextValid:
			hm.Data = validUTF8(string(m.Payload))
		case m.Opcode != dissect.OpClose || m.CloseCode == 0:
			hm.Data = base64.StdEncoding.EncodeToString(m.Payload)
		default:
			hm.Data = strconv.Itoa(int(m.CloseCode))
			if m.CloseReason != "" {
				hm.Data += " " + validUTF8(m.CloseReason)
			}
		}
		return dst, hm, true
	case dissect.KindConnection:
		return dst, &ts, true
	}
	return dst, nil, false
}

// harHandshake makes the entry of a handshake, its messages to come.
func harHandshake(ev *dissect.Event) *harEntry {
	h, ts := ev.Handshake, ev.Pos.TS
	server := ev.Conn.Server.String()
	e := &harEntry{StartedDateTime: ts.UTC().Format("2006-01-02T15:04:05.000Z"), start: ts, ResourceType: "websocket",
		Messages: []harWSMessage{}}
	e.Request = harRequest{Method: "GET", URL: "ws://" + server + "/", HTTPVersion: "HTTP/1.1", Cookies: []harNV{},
		Headers: []harNV{}, QueryString: []harNV{}, HeadersSize: -1, BodySize: 0}
	e.Response = harResponse{Status: h.Status, HTTPVersion: "HTTP/1.1", Cookies: []harNV{}, Headers: []harNV{},
		Content: harContent{MimeType: "x-unknown"}, HeadersSize: -1, BodySize: -1}
	if i := strings.LastIndexByte(server, ':'); i > 0 {
		e.ServerIPAddress = strings.Trim(server[:i], "[]")
	}
	path := validUTF8(h.Path)
	if rq := h.Request; rq != nil {
		line := validUTF8(rq.Method + " " + rq.Target + " " + rq.Proto)
		parts := strings.SplitN(line, " ", 3)
		if len(parts) == 3 {
			e.Request.Method, e.Request.HTTPVersion = parts[0], parts[2]
		}
		host := validUTF8(h.Host)
		if host == "" {
			host = server
		}
		scheme := "ws://"
		if h.TLS != nil {
			scheme = "wss://"
		}
		e.Request.URL = scheme + host + path
		e.Request.HeadersSize = len(line) + 4
		for _, f := range rq.Header {
			kv := harNV{validUTF8(f.Name), validUTF8(f.Value)}
			e.Request.Headers = append(e.Request.Headers, kv)
			e.Request.HeadersSize += len(kv.Name) + len(kv.Value) + 4
		}
		if _, q, ok := strings.Cut(path, "?"); ok {
			for _, p := range strings.Split(q, "&") {
				n, v, _ := strings.Cut(p, "=")
				e.Request.QueryString = append(e.Request.QueryString, harNV{n, v})
			}
		}
	}
	if rs := h.Response; rs != nil {
		line := rs.Proto + " " + strconv.Itoa(rs.Status)
		if rs.Reason != "" {
			line += " " + rs.Reason
		}
		line = validUTF8(line)
		parts := strings.SplitN(line, " ", 3)
		e.Response.HTTPVersion = parts[0]
		if len(parts) == 3 {
			e.Response.StatusText = parts[2]
		}
		e.Response.HeadersSize = len(line) + 4
		for _, f := range rs.Header {
			kv := harNV{validUTF8(f.Name), validUTF8(f.Value)}
			e.Response.Headers = append(e.Response.Headers, kv)
			e.Response.HeadersSize += len(kv.Name) + len(kv.Value) + 4
		}
	}
	return e
}

// validUTF8 returns s with every byte that is not part of valid UTF-8
// replaced by U+FFFD, as the JSON encoders write it.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// WriteRecord takes one record.
func (h *HAR) WriteRecord(r *Encoded) error {
	switch v := r.Value.(type) {
	case *harEntry:
		v.Connection = strconv.Itoa(r.Conn)
		h.open[r.Conn] = v
	case *harWSMessage:
		if e := h.open[r.Conn]; e != nil {
			e.Messages = append(e.Messages, *v)
		}
	case *time.Time:
		e := h.open[r.Conn]
		if e == nil {
			return nil
		}
		delete(h.open, r.Conn)
		e.Time = float64(v.Sub(e.start).Microseconds()) / 1000
		e.Timings.Receive = e.Time
		return h.writeEntry(e)
	}
	return nil
}

func opcodeNumber(name string) int {
	if op, ok := dissect.ParseOpcode(name); ok {
		return int(op)
	}
	return -1
}

func (h *HAR) writeEntry(e *harEntry) error {
	if h.n == 0 {
		fmt.Fprintf(h.w, `{"log":{"version":"1.2","creator":{"name":"wscap","version":%q},"pages":[],"entries":[`, h.version)
	} else {
		h.w.WriteString(",")
	}
	h.n++
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b = escapeTerminalRunes(b)
	h.w.WriteString("\n")
	_, err = h.w.Write(b)
	return err
}

// Close ends the document.
func (h *HAR) Close() error {
	if h.n == 0 {
		fmt.Fprintf(h.w, `{"log":{"version":"1.2","creator":{"name":"wscap","version":%q},"pages":[],"entries":[`, h.version)
	}
	h.w.WriteString("\n]}}\n")
	return h.w.Flush()
}

// Finish does nothing: the document holds no totals.
func (h *HAR) Finish(*Totals) {}
