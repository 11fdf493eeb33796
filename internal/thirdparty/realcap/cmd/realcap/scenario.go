package main

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/wscap/wscap/internal/thirdparty/realcap"
)

const (
	client = "client"
	server = "server"
)

// scenario is one capture: who serves, who connects, and the script both follow.
type scenario struct {
	name        string
	description string
	network     string // "tcp4" (127.0.0.1) or "tcp6" ([::1])
	format      string // "pcap" or "pcapng"
	server      peerSpec
	client      peerSpec
	steps       []step
}

// peerSpec configures one side.
type peerSpec struct {
	impl string // "gorilla", "coder", "python", "node"

	// compress enables permessage-deflate on a Go side: gorilla's EnableCompression
	// (which always negotiates no_context_takeover both ways), coder's
	// CompressionContextTakeover.
	compress bool
	// writeBufferSize is gorilla's WriteBufferSize (0: library default 4096); it decides
	// where gorilla splits a message into frames.
	writeBufferSize int
	// threshold is coder's CompressionThreshold (0: library default, 128 with takeover).
	threshold int

	// deflate is passed to a Python or node side as-is: the keyword arguments of
	// websockets' Server/ClientPerMessageDeflateFactory, or ws's perMessageDeflate object.
	// nil disables permessage-deflate.
	deflate map[string]any
}

func (p peerSpec) describe() string {
	var parts []string
	switch p.impl {
	case "gorilla":
		if p.compress {
			parts = append(parts, "EnableCompression")
		}
		if p.writeBufferSize != 0 {
			parts = append(parts, fmt.Sprintf("WriteBufferSize=%d", p.writeBufferSize))
		}
	case "coder":
		if p.compress {
			parts = append(parts, "CompressionMode=CompressionContextTakeover")
		} else {
			parts = append(parts, "CompressionMode=CompressionDisabled")
		}
		if p.threshold != 0 {
			parts = append(parts, fmt.Sprintf("CompressionThreshold=%d", p.threshold))
		}
	case "python", "node":
		if p.deflate == nil {
			parts = append(parts, "permessage-deflate disabled")
			break
		}
		keys := make([]string, 0, len(p.deflate))
		for k := range p.deflate {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, fmt.Sprintf("%s=%v", k, p.deflate[k]))
		}
		name := "PerMessageDeflateFactory("
		if p.impl == "node" {
			name = "perMessageDeflate{"
		}
		end := ")"
		if p.impl == "node" {
			end = "}"
		}
		parts = append(parts, name+strings.Join(kv, ", ")+end)
	}
	if len(parts) == 0 {
		return "library defaults"
	}
	return strings.Join(parts, "; ")
}

// step is one entry of a scenario's script. The side named by from performs it (unless
// auto: then its library does by itself); the other side, for data messages, reads the
// message and checks it.
type step struct {
	from string
	op   string // text, binary, ping, pong, close
	data []byte
	// frags, when set, are handed to the sender piece by piece (gorilla/coder: one Write
	// each; Python: an iterable; node: send with fin=false); data is their concatenation.
	frags [][]byte
	// interleave lists control frames a node sender sends between fragments.
	interleave []ctrl
	// sendCompress, when set, is the sender's per-message compression switch (gorilla
	// EnableWriteCompression, node's compress option).
	sendCompress *bool
	auto         bool
	code         int
	reason       string
	compressed   *bool // expected RSV1
	frames       int   // expected number of frames, 0 when not asserted
	note         string
}

// ctrl is a control frame sent after fragment number after (0-based) of a data message.
type ctrl struct {
	after int
	op    string
	data  []byte
}

func msg(from, op string, data []byte) step { return step{from: from, op: op, data: data} }
func text(from, s string) step              { return msg(from, "text", []byte(s)) }
func binmsg(from string, b []byte) step     { return msg(from, "binary", b) }
func ping(from, s string) step              { return msg(from, "ping", []byte(s)) }

// pongAuto is the pong the library of side from answers a ping with.
func pongAuto(from, s string) step { st := msg(from, "pong", []byte(s)); st.auto = true; return st }

func closeMsg(from string, code int, reason string) step {
	return step{from: from, op: "close", code: code, reason: reason}
}

// closeAuto is the close frame the library of side from answers a close with.
func closeAuto(from string, code int, reason string) step {
	st := closeMsg(from, code, reason)
	st.auto = true
	return st
}

func (s step) comp(v bool) step     { s.compressed = &v; return s }
func (s step) nframes(n int) step   { s.frames = n; return s }
func (s step) why(n string) step    { s.note = n; return s }
func (s step) sendComp(v bool) step { s.sendCompress = &v; return s }
func (s step) ctrlAfter(i int, op string, data string) step {
	s.interleave = append(s.interleave, ctrl{after: i, op: op, data: []byte(data)})
	return s
}

// fragments splits the step's data at the given sizes (the rest is the last fragment).
func (s step) fragments(sizes ...int) step {
	rest := s.data
	s.frags = nil
	for _, n := range sizes {
		s.frags = append(s.frags, rest[:n])
		rest = rest[n:]
	}
	s.frags = append(s.frags, rest)
	return s
}

// closePayload is the close frame body (RFC 6455 §5.5.1); 1005 stands for an empty one.
func closePayload(code int, reason string) []byte {
	if code == 1005 {
		return nil
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(code))
	return append(b, reason...)
}

func (sc scenario) spec(side string) peerSpec {
	if side == client {
		return sc.client
	}
	return sc.server
}

// validate rejects scripts a side cannot perform.
func (sc scenario) validate() error {
	closed := map[string]bool{}
	for i, st := range sc.steps {
		if st.from != client && st.from != server {
			return fmt.Errorf("step %d: bad side %q", i, st.from)
		}
		if closed[client] || closed[server] {
			if !(st.op == "close" && st.auto) {
				return fmt.Errorf("step %d: after the close handshake began", i)
			}
		}
		if st.op == "close" && !st.auto {
			closed[st.from] = true
		}
		impl := sc.spec(st.from).impl
		if st.auto {
			continue
		}
		if impl == "coder" && (st.op == "ping" || st.op == "pong") {
			return fmt.Errorf("step %d: coder's Ping waits for the pong on a concurrent reader; not scripted", i)
		}
		if len(st.interleave) > 0 && impl != "node" {
			return fmt.Errorf("step %d: only the node peer interleaves control frames", i)
		}
		if impl == "python" && st.op == "text" {
			for _, f := range st.frags {
				if !utf8.Valid(f) {
					return fmt.Errorf("step %d: Python sends text fragments as str; each must be valid UTF-8", i)
				}
			}
		}
		if impl == "gorilla" && st.sendCompress != nil && !sc.spec(st.from).compress {
			return errors.New("gorilla: sendCompress without compression")
		}
	}
	if !closed[client] && !closed[server] {
		return errors.New("script does not close")
	}
	return nil
}

// messages returns the expectation records in script order, with interleaved control
// frames listed before the data message they interrupt.
func (sc scenario) messages() []realcap.Message {
	var out []realcap.Message
	for _, st := range sc.steps {
		for _, c := range st.interleave {
			out = append(out, realcap.Message{
				From: st.from, Opcode: c.op, DataB64: b64(c.data),
				Note: fmt.Sprintf("sent between fragments %d and %d of the next %s message", c.after+1, c.after+2, st.op),
			})
		}
		m := realcap.Message{From: st.from, Opcode: st.op, Auto: st.auto, Frames: st.frames, Note: st.note}
		switch st.op {
		case "close":
			m.DataB64 = b64(closePayload(st.code, st.reason))
			m.CloseCode = st.code
			m.CloseReason = st.reason
		case "text", "binary":
			m.DataB64 = b64(st.data)
			c := false
			if st.compressed != nil {
				c = *st.compressed
			}
			m.Compressed = &c
		default:
			m.DataB64 = b64(st.data)
		}
		out = append(out, m)
	}
	return out
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func implName(impl string) string {
	switch impl {
	case "gorilla":
		return "github.com/gorilla/websocket"
	case "coder":
		return "github.com/coder/websocket"
	case "python":
		return "websockets (Python)"
	case "node":
		return "ws (node)"
	}
	return impl
}
