package dissect

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// recorder is a Sink that keeps a printable line per event.
type recorder struct {
	lines    []string
	findings []Finding
	messages []Message
	payloads [][]byte
	frames   []Frame
	hs       []Handshake
	sums     []Summary
}

func (r *recorder) Emit(ev *Event) error {
	switch ev.Kind {
	case KindHandshake:
		r.hs = append(r.hs, *ev.Handshake)
		r.lines = append(r.lines, fmt.Sprintf("handshake status=%d accept=%v", ev.Handshake.Status, ev.Handshake.AcceptValid))
	case KindMessage:
		m := *ev.Message
		m.Payload = bytes.Clone(m.Payload)
		r.messages = append(r.messages, m)
		r.payloads = append(r.payloads, m.Payload)
		r.lines = append(r.lines, fmt.Sprintf("message %s %s frames=%d len=%d wire=%d z=%v trunc=%v inc=%v undec=%v close=%d/%q %q",
			m.From, m.Opcode, m.Frames, m.Length, m.WireLength, m.Compressed, m.Truncated, m.Incomplete, m.Undecodable, m.CloseCode, m.CloseReason, m.Payload))
	case KindFrame:
		f := *ev.Frame
		f.Payload = bytes.Clone(f.Payload)
		r.frames = append(r.frames, f)
		r.lines = append(r.lines, fmt.Sprintf("frame %s fin=%v rsv=%d %s len=%d %q", f.From, f.Fin, f.RSV, f.Opcode, f.Length, f.Payload))
	case KindFinding:
		r.findings = append(r.findings, *ev.Finding)
		r.lines = append(r.lines, fmt.Sprintf("finding %s %s", ev.Finding.Code, ev.Finding.Detail))
	case KindConnection:
		r.sums = append(r.sums, *ev.Summary)
		r.lines = append(r.lines, fmt.Sprintf("connection %s", ev.Summary.Reason))
	}
	return nil
}

func (r *recorder) codes() []string {
	var cs []string
	for _, f := range r.findings {
		cs = append(cs, string(f.Code))
	}
	return cs
}

// wsFrame builds one frame on the wire. A client frame (masked) uses a fixed
// key so tests are deterministic.
type wsFrame struct {
	fin     bool
	rsv     uint8
	op      Opcode
	masked  bool
	payload []byte
	// lenBytes forces a length encoding: 0 minimal, 2 = 16-bit, 8 = 64-bit.
	lenBytes int
	length   uint64 // announced length, when forcing a mismatch (0: len(payload))
}

var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

func (f wsFrame) bytes() []byte {
	n := uint64(len(f.payload))
	if f.length != 0 {
		n = f.length
	}
	b0 := f.rsv<<4 | uint8(f.op)
	if f.fin {
		b0 |= 0x80
	}
	var m byte
	if f.masked {
		m = 0x80
	}
	var b []byte
	switch {
	case f.lenBytes == 8 || (f.lenBytes == 0 && n > 0xffff):
		b = append(b, b0, m|127)
		b = binary.BigEndian.AppendUint64(b, n)
	case f.lenBytes == 2 || (f.lenBytes == 0 && n >= 126):
		b = append(b, b0, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, b0, m|byte(n))
	}
	p := bytes.Clone(f.payload)
	if f.masked {
		b = append(b, testKey[:]...)
		for i := range p {
			p[i] ^= testKey[i%4]
		}
	}
	return append(b, p...)
}

// client and server build well-formed frames of each side.
func client(op Opcode, payload string) wsFrame {
	return wsFrame{fin: true, op: op, masked: true, payload: []byte(payload)}
}
func server(op Opcode, payload string) wsFrame {
	return wsFrame{fin: true, op: op, payload: []byte(payload)}
}

func frames(fs ...wsFrame) []byte {
	var b []byte
	for _, f := range fs {
		b = append(b, f.bytes()...)
	}
	return b
}

func closePayload(code int, reason string) string {
	return string(binary.BigEndian.AppendUint16(nil, uint16(code))) + reason
}

const testKeyB64 = "dGhlIHNhbXBsZSBub25jZQ==" // RFC 6455 §1.3

// request returns an opening handshake request; edit changes header lines
// ("Name: value" replaces, "-Name" removes, other strings are appended).
func request(edits ...string) string {
	lines := []string{"GET /chat HTTP/1.1", "Host: server.example.com", "Upgrade: websocket", "Connection: Upgrade",
		"Sec-WebSocket-Key: " + testKeyB64, "Origin: http://example.com", "Sec-WebSocket-Protocol: chat, superchat", "Sec-WebSocket-Version: 13"}
	return head(lines, edits)
}

func response(edits ...string) string {
	lines := []string{"HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}
	return head(lines, edits)
}

func head(lines []string, edits []string) string {
	for _, e := range edits {
		switch {
		case strings.HasPrefix(e, "-"):
			name := strings.ToLower(e[1:]) + ":"
			for i := 0; i < len(lines); i++ {
				if strings.HasPrefix(strings.ToLower(lines[i]), name) {
					lines = append(lines[:i], lines[i+1:]...)
					i--
				}
			}
		case strings.HasPrefix(e, "@"): // replace the first line
			lines[0] = e[1:]
		default:
			name, _, _ := strings.Cut(e, ":")
			replaced := false
			for i := 1; i < len(lines); i++ {
				if n, _, _ := strings.Cut(lines[i], ":"); strings.EqualFold(n, name) && !replaced {
					lines[i] = e
					replaced = true
				}
			}
			if !replaced {
				lines = append(lines, e)
			}
		}
	}
	return strings.Join(lines, "\r\n") + "\r\n\r\n"
}

// step is one delivery to a connection.
type step struct {
	dir  Direction
	data []byte
	gap  int64
}

func c2s(b ...[]byte) step { return step{dir: ClientToServer, data: bytes.Join(b, nil)} }
func s2c(b ...[]byte) step { return step{dir: ServerToClient, data: bytes.Join(b, nil)} }

// runConn feeds the steps to one connection, a packet each, and ends it
// with reason.
func runConn(t testing.TB, opts Options, reason EndReason, steps ...step) *recorder {
	t.Helper()
	rec := &recorder{}
	d := New(opts, rec)
	c := d.NewConn(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"), Pos{Pkt: 1})
	for i, s := range steps {
		p := Pos{Pkt: uint64(i + 1), TS: time.Unix(1700000000, int64(i)*1000)}
		if s.gap > 0 {
			c.Gap(s.dir, p, s.gap)
			continue
		}
		c.Data(s.dir, p, bytes.Clone(s.data))
	}
	c.End(Pos{Pkt: uint64(len(steps) + 1), TS: time.Unix(1700000001, 0)}, reason)
	return rec
}

// upgraded returns the steps of a clean handshake followed by steps.
func upgraded(steps ...step) []step {
	return append([]step{c2s([]byte(request())), s2c([]byte(response()))}, steps...)
}

// compressor keeps one flate writer per direction (context takeover), as
// ../shared/DESIGN.md advises: Flush per message, strip 00 00 ff ff.
type compressor struct {
	buf bytes.Buffer
	w   *flate.Writer
}

func newCompressor() *compressor {
	c := &compressor{}
	c.w, _ = flate.NewWriter(&c.buf, flate.BestCompression)
	return c
}

func (c *compressor) compress(msg string) []byte {
	c.buf.Reset()
	c.w.Write([]byte(msg))
	c.w.Flush()
	b := c.buf.Bytes()
	return bytes.Clone(bytes.TrimSuffix(b, []byte{0, 0, 0xff, 0xff}))
}
