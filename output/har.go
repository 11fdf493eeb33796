package output

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/wscap/wscap/dissect"
)

// HAR writes a HAR 1.2 document (http://www.softwareishard.com/blog/har-12-spec/)
// with one entry per WebSocket handshake and its messages in the
// "_webSocketMessages" array, as Chrome DevTools exports them, so that
// sessions taken from a capture open in tools that read HAR. Entries are
// written as their connections end; the messages of open connections are
// held until then. It takes records encoded by a JSONLEncoder.
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
func (h *HAR) Encoder() Encoder {
	return Filtered(&JSONLEncoder{}, &Filter{Kinds: []dissect.Kind{dissect.KindHandshake, dissect.KindMessage, dissect.KindConnection}})
}

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

type harRecord struct {
	MessageRecord
	Client, Server string
	Captured       bool
	Status         int
	Method, Path   string
	Host           string
	Request        *HeadRecord
	Response       *HeadRecord
	TLS            *TLSRecord
}

// WriteRecord takes one record.
func (h *HAR) WriteRecord(rec *Encoded) error {
	kind, conn, body := rec.Kind, rec.Conn, rec.Bytes
	var r harRecord
	full := append([]byte(`{"kind":"`+kind.String()+`","conn":`+strconv.Itoa(conn)), body...)
	if err := json.Unmarshal(full, &r); err != nil {
		return fmt.Errorf("output: har: %w", err)
	}
	ts, _ := time.Parse(time.RFC3339Nano, r.TS)
	switch kind {
	case dissect.KindHandshake:
		e := &harEntry{StartedDateTime: ts.UTC().Format("2006-01-02T15:04:05.000Z"), start: ts, ResourceType: "websocket",
			Messages: []harWSMessage{}, Connection: strconv.Itoa(conn)}
		e.Request = harRequest{Method: "GET", URL: "ws://" + r.Server + "/", HTTPVersion: "HTTP/1.1", Cookies: []harNV{},
			Headers: []harNV{}, QueryString: []harNV{}, HeadersSize: -1, BodySize: 0}
		e.Response = harResponse{Status: r.Status, HTTPVersion: "HTTP/1.1", Cookies: []harNV{}, Headers: []harNV{},
			Content: harContent{MimeType: "x-unknown"}, HeadersSize: -1, BodySize: -1}
		if i := strings.LastIndexByte(r.Server, ':'); i > 0 {
			e.ServerIPAddress = strings.Trim(r.Server[:i], "[]")
		}
		if rq := r.Request; rq != nil {
			parts := strings.SplitN(rq.Line, " ", 3)
			if len(parts) == 3 {
				e.Request.Method, e.Request.HTTPVersion = parts[0], parts[2]
			}
			host := r.Host
			if host == "" {
				host = r.Server
			}
			scheme := "ws://"
			if r.TLS != nil {
				scheme = "wss://"
			}
			e.Request.URL = scheme + host + r.Path
			e.Request.HeadersSize = len(rq.Line) + 4
			for _, kv := range rq.Headers {
				e.Request.Headers = append(e.Request.Headers, harNV{kv[0], kv[1]})
				e.Request.HeadersSize += len(kv[0]) + len(kv[1]) + 4
			}
			if _, q, ok := strings.Cut(r.Path, "?"); ok {
				for _, p := range strings.Split(q, "&") {
					n, v, _ := strings.Cut(p, "=")
					e.Request.QueryString = append(e.Request.QueryString, harNV{n, v})
				}
			}
		}
		if rs := r.Response; rs != nil {
			parts := strings.SplitN(rs.Line, " ", 3)
			e.Response.HTTPVersion = parts[0]
			if len(parts) == 3 {
				e.Response.StatusText = parts[2]
			}
			e.Response.HeadersSize = len(rs.Line) + 4
			for _, kv := range rs.Headers {
				e.Response.Headers = append(e.Response.Headers, harNV{kv[0], kv[1]})
				e.Response.HeadersSize += len(kv[0]) + len(kv[1]) + 4
			}
		}
		h.open[conn] = e
	case dissect.KindMessage:
		e := h.open[conn]
		if e == nil || r.Undecodable {
			return nil
		}
		m := harWSMessage{Type: "receive", Time: float64(ts.UnixNano()) / 1e9, Opcode: opcodeNumber(r.Opcode)}
		if r.From == "client" {
			m.Type = "send"
		}
		switch {
		case r.Text != nil:
			m.Data = *r.Text
		case r.Data != nil:
			b, _ := json.Marshal(*r.Data) // base64, quoted
			m.Data = strings.Trim(string(b), `"`)
		case r.CloseCode != 0:
			m.Data = strconv.Itoa(r.CloseCode)
			if r.CloseReason != nil && *r.CloseReason != "" {
				m.Data += " " + *r.CloseReason
			}
		}
		e.Messages = append(e.Messages, m)
	case dissect.KindConnection:
		e := h.open[conn]
		if e == nil {
			return nil
		}
		delete(h.open, conn)
		e.Time = float64(ts.Sub(e.start).Microseconds()) / 1000
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
