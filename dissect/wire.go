// Package dissect is the WebSocket brain of wscap: it reads the two byte
// streams of one TCP connection and turns them into a handshake, frames,
// messages and findings (RFC 6455, RFC 7692).
//
// A Conn is the stream.Stream of one TCP connection; the Dissector is
// their stream.Factory. Besides the standard library, its HTTP/1 head
// parser (dissect/http1) and klauspost's flate (behind one seam,
// deflate.go), dissect's core imports only the stream vocabulary it shares
// with reassembly and internal/prefetch's cache hints. It observes: a protocol violation is reported as a
// Finding and decoding goes on.
package dissect

import (
	"fmt"
	"net/netip"

	"github.com/wscap/wscap/stream"
)

// Opcode is the 4-bit frame opcode (RFC 6455 §5.2, §11.8).
type Opcode uint8

// Opcodes defined by RFC 6455 §5.2.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

var opcodeNames = [16]string{
	OpContinuation: "continuation",
	OpText:         "text",
	OpBinary:       "binary",
	OpClose:        "close",
	OpPing:         "ping",
	OpPong:         "pong",
}

// String returns the RFC name of the opcode, or "0x3".."0xf" for reserved ones.
func (o Opcode) String() string {
	if int(o) < len(opcodeNames) && opcodeNames[o] != "" {
		return opcodeNames[o]
	}
	return fmt.Sprintf("0x%x", uint8(o))
}

// IsControl reports whether o is a control opcode (RFC 6455 §5.5): its most
// significant bit is set.
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// IsReserved reports whether o is one of the reserved opcodes 0x3-0x7 and
// 0xB-0xF (RFC 6455 §5.2).
func (o Opcode) IsReserved() bool { return (o >= 0x3 && o <= 0x7) || o >= 0xB }

// ParseOpcode parses the names printed by String ("text", "0x3").
func ParseOpcode(s string) (Opcode, bool) {
	for i, n := range opcodeNames {
		if n != "" && n == s {
			return Opcode(i), true
		}
	}
	var v uint8
	if _, err := fmt.Sscanf(s, "0x%x", &v); err == nil && v < 16 {
		return Opcode(v), true
	}
	return 0, false
}

// Direction says which peer sent bytes (see stream.Direction). The client
// is the peer that sent the opening handshake request (or, without a
// captured handshake, the peer that masks its frames, or the one that sent
// the SYN).
type Direction = stream.Direction

// The two directions of a connection.
const (
	ClientToServer = stream.ClientToServer
	ServerToClient = stream.ServerToClient
)

// Pos is where in the input an event was completed (see stream.Pos).
type Pos = stream.Pos

// ConnInfo identifies a WebSocket connection. It is shared by every event of
// the connection: ID, Client, Server, First and H2Stream are set before its
// first event; Host and Path once the handshake request was seen (empty
// before it, and for a connection found mid-stream).
type ConnInfo struct {
	ID     int            // 1, 2, 3, ... in the order the connections were recognised
	Client netip.AddrPort // the peer that sent the handshake request
	Server netip.AddrPort
	First  Pos // the TCP connection's first packet
	// Host and Path are the handshake request's, once it was seen.
	Host, Path string
	// H2Stream is the HTTP/2 stream that carries a WebSocket over HTTP/2
	// (RFC 8441); 0 for one that has the TCP connection to itself.
	H2Stream uint32
}
