package output

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/wscap/wscap/dissect/app"
)

// AppRecord is a message record's "app" object: what the application
// protocol decoder read (see the README's schema section). The fields of
// its protocol are set.
type AppRecord struct {
	Protocol string `json:"protocol"`
	Summary  string `json:"summary"`
	// Socket.IO
	EngineIO string     `json:"engineio,omitempty"`
	SocketIO *SIORecord `json:"socketio,omitempty"`
	// STOMP
	Frames []STOMPRecord `json:"frames,omitempty"`
	// MQTT: the packets that end in this message; Partial when bytes of an
	// unfinished one (MQTT or STOMP) remain.
	Packets []MQTTRecord `json:"packets,omitempty"`
	Partial bool         `json:"partial,omitempty"`
	// GraphQL over WebSocket
	Type          string          `json:"type,omitempty"`
	ID            string          `json:"id,omitempty"`
	OperationName string          `json:"operation_name,omitempty"`
	Payload       json.RawMessage `json:"payload,omitempty"`
	// JSON-RPC 2.0: the object (ID its id as text), or each of a batch's
	// in Batch.
	Kind      string       `json:"kind,omitempty"`
	Method    string       `json:"method,omitempty"`
	ErrorCode *int         `json:"error_code,omitempty"`
	LatencyMS *float64     `json:"latency_ms,omitempty"`
	Batch     []JSONRPCRec `json:"batch,omitempty"`
}

// SIORecord is a Socket.IO packet.
type SIORecord struct {
	Type        string          `json:"type"`
	Nsp         string          `json:"nsp"`
	ID          *int64          `json:"id,omitempty"`
	Event       string          `json:"event,omitempty"`
	Args        json.RawMessage `json:"args,omitempty"`
	Attachments int             `json:"attachments,omitempty"`
	Attachment  int             `json:"attachment,omitempty"`
}

// STOMPRecord is a STOMP frame: body as text when it is UTF-8, else
// body_b64.
type STOMPRecord struct {
	Command string      `json:"command"`
	Headers [][2]string `json:"headers"`
	Body    *string     `json:"body,omitempty"`
	BodyB64 []byte      `json:"body_b64,omitempty"`
}

// MQTTRecord is an MQTT control packet.
type MQTTRecord struct {
	Type          string      `json:"type"`
	PacketID      *int        `json:"packet_id,omitempty"`
	QoS           int         `json:"qos"`
	Retain        bool        `json:"retain,omitempty"`
	Dup           bool        `json:"dup,omitempty"`
	Topic         string      `json:"topic,omitempty"`
	Payload       *string     `json:"payload,omitempty"`
	PayloadB64    []byte      `json:"payload_b64,omitempty"`
	ProtocolName  string      `json:"protocol_name,omitempty"`
	ProtocolLevel int         `json:"protocol_level,omitempty"`
	ClientID      string      `json:"client_id,omitempty"`
	KeepAlive     int         `json:"keep_alive,omitempty"`
	CleanStart    bool        `json:"clean_start,omitempty"`
	Username      string      `json:"username,omitempty"`
	WillTopic     string      `json:"will_topic,omitempty"`
	ReasonCodes   []int       `json:"reason_codes,omitempty"`
	Filters       []string    `json:"filters,omitempty"`
	Properties    [][2]string `json:"properties,omitempty"`
}

// JSONRPCRec is one JSON-RPC object of a batch.
type JSONRPCRec struct {
	Kind      string   `json:"kind"`
	Method    string   `json:"method,omitempty"`
	ID        string   `json:"id,omitempty"`
	ErrorCode *int     `json:"error_code,omitempty"`
	LatencyMS *float64 `json:"latency_ms,omitempty"`
}

// NewAppRecord builds the record of what a decoder read.
func NewAppRecord(i *app.Info) *AppRecord {
	r := &AppRecord{Protocol: i.Protocol.String(), Summary: i.Summary, EngineIO: i.EngineIO, Partial: i.Partial}
	if p := i.SocketIO; p != nil {
		s := &SIORecord{Type: p.Type, Nsp: p.Nsp, Event: p.Event, Args: compactJSON(p.Args), Attachments: p.Attachments, Attachment: p.Attachment}
		if p.ID >= 0 {
			id := p.ID
			s.ID = &id
		}
		r.SocketIO = s
	}
	for _, f := range i.STOMP {
		s := STOMPRecord{Command: f.Command, Headers: f.Headers}
		if s.Headers == nil {
			s.Headers = [][2]string{}
		}
		s.Body, s.BodyB64 = textOrBytes(f.Body)
		r.Frames = append(r.Frames, s)
	}
	for _, p := range i.MQTT {
		m := MQTTRecord{Type: p.Type, QoS: p.QoS, Retain: p.Retain, Dup: p.Dup, Topic: p.Topic, ProtocolName: p.ProtocolName,
			ProtocolLevel: p.ProtocolLevel, ClientID: p.ClientID, KeepAlive: p.KeepAlive, CleanStart: p.CleanStart, Username: p.Username,
			WillTopic: p.WillTopic, ReasonCodes: p.ReasonCodes, Filters: p.Filters, Properties: p.Properties}
		if p.PacketID >= 0 {
			id := p.PacketID
			m.PacketID = &id
		}
		if p.Type == "PUBLISH" {
			m.Payload, m.PayloadB64 = textOrBytes(p.Payload)
		}
		r.Packets = append(r.Packets, m)
	}
	if g := i.GraphQL; g != nil {
		r.Type, r.ID, r.OperationName, r.Payload = g.Type, g.ID, g.OperationName, compactJSON(g.Payload)
		if g.LatencyKnown {
			r.LatencyMS = ms(g.Latency.Microseconds())
		}
	}
	switch rpc := i.JSONRPC; {
	case len(rpc) == 1:
		o := rpcRec(&rpc[0])
		r.Kind, r.Method, r.ID, r.ErrorCode, r.LatencyMS = o.Kind, o.Method, o.ID, o.ErrorCode, o.LatencyMS
	case len(rpc) > 1:
		for k := range rpc {
			r.Batch = append(r.Batch, rpcRec(&rpc[k]))
		}
	}
	return r
}

func rpcRec(m *app.JSONRPCMsg) JSONRPCRec {
	o := JSONRPCRec{Kind: m.Kind, Method: m.Method, ID: rpcID(m.ID)}
	if m.Kind == "error" {
		c := m.ErrorCode
		o.ErrorCode = &c
	}
	if m.LatencyKnown {
		o.LatencyMS = ms(m.Latency.Microseconds())
	}
	return o
}

// rpcID is a JSON-RPC id as text: a string id unquoted, a number as written.
func rpcID(raw string) string {
	var s string
	if json.Unmarshal([]byte(raw), &s) == nil {
		return s
	}
	return raw
}

func ms(us int64) *float64 {
	v := float64(us) / 1000
	return &v
}

// textOrBytes returns b as text when it is valid UTF-8, else as bytes.
func textOrBytes(b []byte) (*string, []byte) {
	if utf8.Valid(b) {
		s := string(b)
		return &s, nil
	}
	return nil, b
}

func compactJSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return nil
	}
	return buf.Bytes()
}

// appendApp appends the "app" member. It is written by encoding/json from
// the schema struct (application messages are few; the hot path never
// comes here), with the terminal-steering runes escaped as everywhere.
func appendApp(dst []byte, i *app.Info) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(NewAppRecord(i)) != nil {
		return dst
	}
	dst = appendKey(dst, "app")
	return append(dst, escapeTerminalRunes(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))...)
}
