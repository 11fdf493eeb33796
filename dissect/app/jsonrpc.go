package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// JSONRPCMsg is one JSON-RPC 2.0 object (https://www.jsonrpc.org/specification):
// a request, a notification, a response or an error response.
type JSONRPCMsg struct {
	Kind      string // "request", "notification", "response", "error"
	Method    string
	ID        string // the id as JSON text ("1", `"a"`), "" when none
	ErrorCode int
	ErrorMsg  string
	// Latency is the time since the request a response answers (0 when it
	// was not seen); LatencyKnown says it was.
	Latency      time.Duration
	LatencyKnown bool
	// Method of the request a response answers.
}

type jsonrpcDecoder struct {
	// pending requests by sender side and id: the time and method.
	pending [2]map[string]pendingCall
}

type pendingCall struct {
	at     time.Time
	method string
}

// maxPendingCalls caps the requests awaiting a response, per direction.
const maxPendingCalls = 4096

type rpcObject struct {
	JSONRPC string          `json:"jsonrpc"`
	Method  *string         `json:"method"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// jsonRPCShaped reports whether b looks like a JSON-RPC 2.0 object or
// batch: sniffed on the first messages of every text connection, so the
// leading white space and brackets are skipped by hand (bytes.TrimLeft
// builds its cutset's table at each call).
func jsonRPCShaped(b []byte) bool {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n' || b[0] == '[') {
		b = b[1:]
	}
	return len(b) > 0 && b[0] == '{' && bytes.Contains(b[:min(len(b), 256)], []byte(`"jsonrpc"`)) && bytes.Contains(b[:min(len(b), 256)], []byte(`"2.0"`))
}

func (d *jsonrpcDecoder) message(c *Conn, client, text bool, payload []byte, ts time.Time, info *Info) {
	if !text {
		c.problem(CodeJSONRPCMalformed, client, "a binary message on a JSON-RPC connection")
		return
	}
	b := bytes.TrimSpace(payload)
	var objs []rpcObject
	batch := len(b) > 0 && b[0] == '['
	var err error
	if batch {
		err = json.Unmarshal(b, &objs)
	} else {
		var o rpcObject
		err = json.Unmarshal(b, &o)
		objs = []rpcObject{o}
	}
	if err != nil {
		c.problem(CodeJSONRPCMalformed, client, "the message is not a JSON-RPC object or batch: "+err.Error())
		return
	}
	side := sideOf(client)
	var parts []string
	for _, o := range objs {
		m := JSONRPCMsg{ID: string(o.ID)}
		if m.ID == "null" {
			m.ID = ""
		}
		if o.JSONRPC != "2.0" && (o.Method != nil || o.Error != nil || len(o.Result) > 0) {
			c.problem(CodeJSONRPCMalformed, client, fmt.Sprintf("a JSON-RPC object whose jsonrpc member is %q, not \"2.0\" (§4, §5)", o.JSONRPC))
		}
		switch {
		case o.Method != nil:
			m.Method = *o.Method
			m.Kind = "request"
			if len(o.ID) == 0 {
				m.Kind = "notification"
			} else {
				if d.pending[side] == nil {
					d.pending[side] = map[string]pendingCall{}
				}
				if len(d.pending[side]) < maxPendingCalls {
					d.pending[side][m.ID] = pendingCall{ts, m.Method}
				}
			}
			info.Names = append(info.Names, m.Method)
		case o.Error != nil || len(o.Result) > 0:
			m.Kind = "response"
			if o.Error != nil {
				m.Kind = "error"
				m.ErrorCode, m.ErrorMsg = o.Error.Code, o.Error.Message
			}
			if call, ok := d.pending[1-side][m.ID]; ok {
				delete(d.pending[1-side], m.ID)
				m.Latency, m.LatencyKnown, m.Method = ts.Sub(call.at), true, call.method
				info.Names = append(info.Names, call.method)
			} else if m.ID != "" {
				c.problem(CodeJSONRPCUnknownID, client, "a JSON-RPC response to id "+m.ID+", which no request seen asked for (§5)")
			}
		default:
			c.problem(CodeJSONRPCMalformed, client, "a JSON-RPC object with neither method nor result nor error (§4, §5)")
			continue
		}
		info.JSONRPC = append(info.JSONRPC, m)
		parts = append(parts, m.summary())
	}
	info.Summary = strings.Join(parts, "; ")
	if batch {
		info.Summary = "batch[" + strconv.Itoa(len(objs)) + "] " + info.Summary
	}
}

func (m *JSONRPCMsg) summary() string {
	s := m.Kind
	if m.Method != "" {
		s += " " + m.Method
	}
	if m.ID != "" {
		s += " id " + m.ID
	}
	if m.Kind == "error" {
		s += fmt.Sprintf(" %d %s", m.ErrorCode, m.ErrorMsg)
	}
	if m.LatencyKnown {
		s += fmt.Sprintf(" after %s", m.Latency.Round(10*time.Microsecond))
	}
	return s
}

// jsonHasString reports whether b is a JSON object whose member key is
// the string v (looked for in its first bytes).
func jsonHasString(b []byte, key, v string) bool {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b[:min(len(b), 1<<16)], &m) != nil {
		return false
	}
	return string(m[key]) == strconv.Quote(v)
}

// JSON-RPC messages are whole WebSocket messages: nothing is held across
// them, and nothing is left unfinished.
func (d *jsonrpcDecoder) lost(int)        {}
func (d *jsonrpcDecoder) end(*Conn, bool) {}
