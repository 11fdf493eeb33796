// Package dissect is the WebSocket brain of wscap: it reads the two byte
// streams of one TCP connection and turns them into a handshake, frames,
// messages and findings (RFC 6455, RFC 7692).
//
// dissect imports only the standard library. It observes: a protocol
// violation is reported as a Finding and decoding goes on.
package dissect

import (
	"fmt"
	"net/netip"
	"time"
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

// Direction says which peer sent bytes.
type Direction uint8

// The two directions of a connection. The client is the peer that sent the
// opening handshake request (or, without a captured handshake, the peer that
// masks its frames, or the one that sent the SYN).
const (
	ClientToServer Direction = 0
	ServerToClient Direction = 1
)

// String returns "client" or "server": the peer that sent.
func (d Direction) String() string {
	if d == ClientToServer {
		return "client"
	}
	return "server"
}

// Arrow returns "client→server" or "server→client".
func (d Direction) Arrow() string {
	if d == ClientToServer {
		return "client→server"
	}
	return "server→client"
}

// Reverse returns the other direction.
func (d Direction) Reverse() Direction { return d ^ 1 }

// Pos is where in the input an event was completed: the packet that carried
// its last byte, counted from 1 per input file as Wireshark counts, and that
// packet's capture timestamp. Events are ordered by (File, Pkt).
type Pos struct {
	File int    // index of the input file, from 0
	Pkt  uint64 // 1-based packet number within the file
	TS   time.Time
}

// Before reports whether p comes before q in the input.
func (p Pos) Before(q Pos) bool {
	if p.File != q.File {
		return p.File < q.File
	}
	return p.Pkt < q.Pkt
}

// ConnInfo identifies a WebSocket connection. It is shared by every event of
// the connection and does not change after the connection's first event.
type ConnInfo struct {
	ID     int            // 1, 2, 3, ... in the order the connections were recognised
	Client netip.AddrPort // the peer that sent the handshake request
	Server netip.AddrPort
	First  Pos // the TCP connection's first packet
	// Host and Path are the handshake request's, once it was seen.
	Host, Path string
}
