package output

import (
	"regexp"
	"strings"

	"github.com/wscap/wscap/dissect"
	"github.com/wscap/wscap/dissect/app"
)

// Filter is a display filter. Its parts compose (AND):
//   - From, Opcodes and Grep select messages and frames (other records of
//     a connection pass them, so that the context stays visible);
//   - Host and Path select connections by their handshake: every record of
//     other connections is dropped;
//   - FindingsOnly keeps findings only.
//
// Connection numbers (--conn) are known only after merging; the pipeline
// applies them itself.
type Filter struct {
	From         *dissect.Direction
	Opcodes      []dissect.Opcode // empty: any
	Grep         *regexp.Regexp   // over text payloads; binary payloads never match
	Host         string           // the Host header, case-insensitive, with its port when given one; a leading "*." matches subdomains
	Path         string           // a prefix of the request target
	FindingsOnly bool
	// Event, Topic and Method select messages by the names the
	// application decoder read: Socket.IO events and GraphQL operations,
	// MQTT topics and STOMP destinations, JSON-RPC methods.
	Event, Topic, Method *regexp.Regexp
}

// Empty reports whether f keeps everything.
func (f *Filter) Empty() bool {
	return f == nil || (f.From == nil && len(f.Opcodes) == 0 && f.Grep == nil && f.Host == "" && f.Path == "" && !f.FindingsOnly &&
		f.Event == nil && f.Topic == nil && f.Method == nil)
}

// Keep reports whether ev passes the filter.
func (f *Filter) Keep(ev *dissect.Event) bool {
	if ev.Kind == dissect.KindRecognised {
		return true // numbering must see every connection
	}
	if f.FindingsOnly && ev.Kind != dissect.KindFinding {
		return false
	}
	if ev.Conn != nil && !f.connOK(ev.Conn) {
		return false
	}
	switch ev.Kind {
	case dissect.KindMessage:
		m := ev.Message
		return f.payloadOK(m.From, m.Opcode, m.Payload, m.Opcode == dissect.OpText && m.TextValid && !m.Undecodable) && f.appOK(m.App)
	case dissect.KindFrame:
		fr := ev.Frame
		return f.payloadOK(fr.From, fr.Opcode, fr.Payload, fr.Opcode == dissect.OpText || fr.Opcode == dissect.OpContinuation)
	}
	return true
}

func (f *Filter) connOK(c *dissect.ConnInfo) bool {
	if f.Host != "" {
		h := strings.ToLower(c.Host)
		want := strings.ToLower(f.Host)
		// host:port, as the views display it, compares with the port;
		// a bare host matches whatever the port.
		if i := strings.LastIndexByte(want, ':'); i < 0 || strings.Contains(want[i:], "]") {
			if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
				h = h[:i] // drop the port
			}
		}
		if suffix, ok := strings.CutPrefix(want, "*."); ok {
			if h != suffix && !strings.HasSuffix(h, "."+suffix) {
				return false
			}
		} else if h != want {
			return false
		}
	}
	if f.Path != "" && !strings.HasPrefix(c.Path, f.Path) {
		return false
	}
	return true
}

func (f *Filter) payloadOK(from dissect.Direction, op dissect.Opcode, payload []byte, text bool) bool {
	if f.From != nil && from != *f.From {
		return false
	}
	if len(f.Opcodes) > 0 && !contains(f.Opcodes, op) {
		return false
	}
	if f.Grep != nil && (!text || !f.Grep.Match(payload)) {
		return false
	}
	return true
}

// appOK applies Event, Topic and Method: a message passes when the names
// its decoder read for that kind of protocol match.
func (f *Filter) appOK(a *app.Info) bool {
	for _, sel := range []struct {
		re     *regexp.Regexp
		protos []app.Protocol
	}{
		{f.Event, []app.Protocol{app.SocketIO, app.GraphQLTransportWS, app.GraphQLWS}},
		{f.Topic, []app.Protocol{app.MQTT, app.STOMP}},
		{f.Method, []app.Protocol{app.JSONRPC}},
	} {
		if sel.re == nil {
			continue
		}
		if a == nil || !contains(sel.protos, a.Protocol) {
			return false
		}
		ok := false
		for _, n := range a.Names {
			if sel.re.MatchString(n) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Filtered returns an Encoder that encodes only the events f keeps.
func Filtered(enc Encoder, f *Filter) Encoder {
	if f.Empty() {
		return enc
	}
	return &filtered{enc: enc, f: f}
}

type filtered struct {
	enc Encoder
	f   *Filter
}

func (e *filtered) Encode(dst []byte, ev *dissect.Event) ([]byte, any, bool) {
	if !e.f.Keep(ev) {
		return dst, nil, false
	}
	return e.enc.Encode(dst, ev)
}
