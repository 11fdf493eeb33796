package hostile

import (
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
)

// WebSocket opcodes (RFC 6455 §5.2).
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xa
)

// Key is the masking key of every client frame built here.
var Key = [4]byte{0x12, 0x34, 0x56, 0x78}

// FrameHeader returns a frame header announcing length payload bytes, in
// the minimal encoding; a masked header carries Key.
func FrameHeader(fin bool, rsv, op byte, masked bool, length uint64) []byte {
	b0 := rsv<<4 | op&0xf
	if fin {
		b0 |= 0x80
	}
	var m byte
	if masked {
		m = 0x80
	}
	var b []byte
	switch {
	case length < 126:
		b = []byte{b0, m | byte(length)}
	case length <= 0xffff:
		b = binary.BigEndian.AppendUint16([]byte{b0, m | 126}, uint16(length))
	default:
		b = binary.BigEndian.AppendUint64([]byte{b0, m | 127}, length)
	}
	if masked {
		b = append(b, Key[:]...)
	}
	return b
}

// Frame returns a whole frame; a masked frame's payload is masked with Key.
func Frame(fin bool, rsv, op byte, masked bool, payload []byte) []byte {
	b := FrameHeader(fin, rsv, op, masked, uint64(len(payload)))
	start := len(b)
	b = append(b, payload...)
	if masked {
		for i := range b[start:] {
			b[start+i] ^= Key[i%4]
		}
	}
	return b
}

// ClientFrame and ServerFrame build final, well-formed frames of each peer.
func ClientFrame(op byte, payload []byte) []byte { return Frame(true, 0, op, true, payload) }
func ServerFrame(op byte, payload []byte) []byte { return Frame(true, 0, op, false, payload) }

// ClosePayload returns a Close frame's payload.
func ClosePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// WSKey is the Sec-WebSocket-Key of every request built here (RFC 6455 §1.3).
const WSKey = "dGhlIHNhbXBsZSBub25jZQ=="

// Accept returns the Sec-WebSocket-Accept for key.
func Accept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// Request returns an opening handshake request; extra header lines
// ("Name: value") are added before the empty line.
func Request(path, host string, extra ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", WSKey)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// Response returns a 101 answer to Request; extra header lines are added.
func Response(extra ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", Accept(WSKey))
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// Compressor compresses the messages of one direction for
// permessage-deflate with context takeover: one flate writer, flushed per
// message, the trailing 00 00 ff ff removed (RFC 7692 §7.2.1).
type Compressor struct {
	buf bytes.Buffer
	w   *flate.Writer
}

// NewCompressor returns a Compressor.
func NewCompressor() *Compressor {
	z := &Compressor{}
	z.w, _ = flate.NewWriter(&z.buf, flate.BestCompression)
	return z
}

// Compress returns the compressed payload of one message.
func (z *Compressor) Compress(msg []byte) []byte {
	z.buf.Reset()
	z.w.Write(msg)
	z.w.Flush()
	return bytes.Clone(bytes.TrimSuffix(z.buf.Bytes(), []byte{0, 0, 0xff, 0xff}))
}

// The ordinary connection every capture carries.
const (
	OrdinaryClient = "10.0.0.1:40000"
	OrdinaryServer = "10.0.0.2:8080"
	// HostileClient and HostileServer are the peers of the hostile
	// connection of a capture.
	HostileClient = "10.6.6.6:50000"
	HostileServer = "10.0.0.9:9000"
)

// Message is one message of the ordinary connection as wscap reports it.
type Message struct {
	From, Opcode string
	Payload      []byte // for close: the reason
	CloseCode    int
}

// Ordinary is a well-formed WebSocket connection: handshake, text, binary,
// fragmented and control messages in both directions, a closing handshake.
// It is written in two halves around the hostile traffic of a capture.
type Ordinary struct {
	k *Conn
}

// StartOrdinary adds the ordinary connection's handshake and first messages.
func StartOrdinary(c *Capture) *Ordinary {
	o := &Ordinary{k: c.Dial(OrdinaryClient, OrdinaryServer)}
	o.k.Client(Request("/ordinary", "ordinary.example"))
	o.k.Server(Response())
	o.k.Client(ClientFrame(OpText, []byte("ordinary hello 1")))
	o.k.Server(ServerFrame(OpText, []byte("ordinary reply 1")))
	o.k.Client(ClientFrame(OpBinary, []byte("\x00\x01\x02ordinary")))
	return o
}

// Finish adds the ordinary connection's last messages and its close.
func (o *Ordinary) Finish() {
	o.k.Server(ServerFrame(OpPing, []byte("ordinary-ping")))
	o.k.Client(ClientFrame(OpPong, []byte("ordinary-ping")))
	o.k.Client(append(Frame(false, 0, OpText, true, []byte("ordinary ")), Frame(true, 0, OpContinuation, true, []byte("hello 2"))...))
	o.k.Server(ServerFrame(OpText, []byte("ordinary reply 2")))
	o.k.Client(ClientFrame(OpClose, ClosePayload(1000, "ordinary bye")))
	o.k.Server(ServerFrame(OpClose, ClosePayload(1000, "ordinary bye")))
	o.k.Close()
}

// OrdinaryMessages lists the ordinary connection's messages in order.
func OrdinaryMessages() []Message {
	return []Message{
		{"client", "text", []byte("ordinary hello 1"), 0},
		{"server", "text", []byte("ordinary reply 1"), 0},
		{"client", "binary", []byte("\x00\x01\x02ordinary"), 0},
		{"server", "ping", []byte("ordinary-ping"), 0},
		{"client", "pong", []byte("ordinary-ping"), 0},
		{"client", "text", []byte("ordinary hello 2"), 0},
		{"server", "text", []byte("ordinary reply 2"), 0},
		{"client", "close", []byte("ordinary bye"), 1000},
		{"server", "close", []byte("ordinary bye"), 1000},
	}
}

// Upgraded adds a hostile connection (HostileClient to HostileServer) with
// a clean opening handshake; extra lines go into both heads (for
// Sec-WebSocket-Extensions).
func Upgraded(c *Capture, reqExtra, respExtra []string) *Conn {
	k := c.Dial(HostileClient, HostileServer)
	k.Client(Request("/hostile", "hostile.example", reqExtra...))
	k.Server(Response(respExtra...))
	return k
}
