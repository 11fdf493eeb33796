package gen

import (
	"fmt"
	"strings"
)

// Opcode is a WebSocket frame opcode (RFC 6455 §5.2).
type Opcode uint8

// Opcodes defined by RFC 6455 §11.8.
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

// String returns the opcode's name, or "opcode(0x3)" for reserved values.
func (o Opcode) String() string {
	if int(o) < len(opcodeNames) && opcodeNames[o] != "" {
		return opcodeNames[o]
	}
	return fmt.Sprintf("opcode(0x%x)", uint8(o))
}

// IsControl reports whether o is a control opcode (RFC 6455 §5.5).
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// Direction is the sending side of a TCP byte stream.
type Direction uint8

// Directions.
const (
	FromClient Direction = 0 // client → server
	FromServer Direction = 1 // server → client
)

// String returns "client" or "server" (the sender).
func (d Direction) String() string {
	switch d {
	case FromClient:
		return "client"
	case FromServer:
		return "server"
	}
	return fmt.Sprintf("direction(%d)", uint8(d))
}

// Peer returns the opposite direction.
func (d Direction) Peer() Direction { return d ^ 1 }

// TCPFlags is the TCP flag byte (RFC 9293 §3.1), FIN in the lowest bit.
type TCPFlags uint8

// TCP flags.
const (
	FlagFIN TCPFlags = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// String returns the set flags joined by "|", e.g. "SYN|ACK".
func (f TCPFlags) String() string {
	names := [...]string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"}
	var parts []string
	for i, n := range names {
		if f&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Format is the capture file format.
type Format uint8

// Formats.
const (
	FormatPcap     Format = iota // libpcap, microsecond timestamps
	FormatPcapNano               // libpcap, nanosecond timestamps
	FormatPcapNG                 // pcapng, nanosecond timestamps
)

var formatNames = [...]string{FormatPcap: "pcap", FormatPcapNano: "pcap-ns", FormatPcapNG: "pcapng"}

// String returns "pcap", "pcap-ns" or "pcapng".
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// ParseFormat parses a name returned by Format.String ("pcapns" and
// "pcap-nano" are accepted too).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "pcap":
		return FormatPcap, nil
	case "pcap-ns", "pcapns", "pcap-nano", "pcapnano":
		return FormatPcapNano, nil
	case "pcapng":
		return FormatPcapNG, nil
	}
	return 0, fmt.Errorf("gen: unknown format %q (want pcap, pcap-ns or pcapng)", s)
}

// Link is the link-layer header written before each IP packet.
type Link uint8

// Link types.
const (
	LinkEthernet Link = iota // DLT_EN10MB
	LinkRaw                  // LINKTYPE_RAW (101): bare IPv4/IPv6
	LinkSLL                  // Linux cooked capture v1 (113)
)

var linkNames = [...]string{LinkEthernet: "ethernet", LinkRaw: "raw", LinkSLL: "sll"}

// String returns "ethernet", "raw" or "sll".
func (l Link) String() string {
	if int(l) < len(linkNames) {
		return linkNames[l]
	}
	return fmt.Sprintf("link(%d)", uint8(l))
}

// ParseLink parses a name returned by Link.String.
func ParseLink(s string) (Link, error) {
	for i, n := range linkNames {
		if strings.EqualFold(s, n) {
			return Link(i), nil
		}
	}
	return 0, fmt.Errorf("gen: unknown link type %q (want ethernet, raw or sll)", s)
}
