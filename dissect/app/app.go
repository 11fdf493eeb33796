// Package app decodes the application protocols that ride on WebSocket
// messages: Socket.IO (over Engine.IO), STOMP, MQTT, GraphQL over
// WebSocket (graphql-transport-ws and the legacy graphql-ws) and JSON-RPC
// 2.0. A Conn is chosen per WebSocket from its negotiated subprotocol, its
// handshake path, or the first messages (Choose), and is then handed every
// data message of both directions in order.
package app

import (
	"bytes"
	"strings"
	"time"
)

// Protocol is an application protocol.
type Protocol uint8

// The protocols decoded.
const (
	None Protocol = iota
	SocketIO
	STOMP
	MQTT
	GraphQLTransportWS
	GraphQLWS // the legacy subscriptions-transport-ws protocol
	JSONRPC
	numProtocols
)

var protocolNames = [...]string{None: "none", SocketIO: "socket.io", STOMP: "stomp", MQTT: "mqtt", GraphQLTransportWS: "graphql-transport-ws", GraphQLWS: "graphql-ws", JSONRPC: "json-rpc"}

func (p Protocol) String() string {
	if p < numProtocols {
		return protocolNames[p]
	}
	return "app?"
}

// ParseProtocol returns the protocol called name ("socket.io", "mqtt",
// "none", ...); ok is false for an unknown name.
func ParseProtocol(name string) (Protocol, bool) {
	name = strings.ToLower(name)
	for p, n := range protocolNames {
		if n == name {
			return Protocol(p), true
		}
	}
	switch name {
	case "socketio":
		return SocketIO, true
	case "jsonrpc":
		return JSONRPC, true
	case "graphql":
		return GraphQLTransportWS, true
	}
	return None, false
}

// Names lists the protocol names ParseProtocol takes.
func Names() []string { return protocolNames[1:] }

// Problem is a rule of an application protocol broken, or what could not
// be decoded. Code is one of the Code constants; dissect reports it as a
// finding of that code.
type Problem struct {
	Code   string
	Client bool // sent by the client
	Detail string
}

// The codes of the problems (dissect's rule table holds their severity
// and section).
const (
	CodeMQTTMalformed     = "app-mqtt-malformed"
	CodeSTOMPMalformed    = "app-stomp-malformed"
	CodeSocketIOMalformed = "app-socketio-malformed"
	CodeSocketIOAttach    = "app-socketio-attachments-missing"
	CodeGraphQLMalformed  = "app-graphql-malformed"
	CodeGraphQLUnknownID  = "app-graphql-unknown-id"
	CodeJSONRPCMalformed  = "app-jsonrpc-malformed"
	CodeJSONRPCUnknownID  = "app-jsonrpc-unknown-id"
	CodeBufferCapped      = "cap-app-buffer"
)

// Codes lists every problem code.
var Codes = []string{CodeMQTTMalformed, CodeSTOMPMalformed, CodeSocketIOMalformed, CodeSocketIOAttach, CodeGraphQLMalformed, CodeGraphQLUnknownID, CodeJSONRPCMalformed, CodeJSONRPCUnknownID, CodeBufferCapped}

// Info is what was decoded from one WebSocket message. The field of its
// Protocol is set. Info and what it points to are owned by the caller
// after Message returns.
type Info struct {
	Protocol Protocol
	// Summary is one line for tables: `EVENT /admin "chat" ack 12`.
	Summary string
	// Names are the event names, topics, destinations or methods the
	// message is about (for filters and statistics).
	Names []string

	EngineIO string     // Socket.IO: the Engine.IO packet type
	SocketIO *SIOPacket // Socket.IO: the Socket.IO packet, when a message
	STOMP    []STOMPFrame
	MQTT     []MQTTPacket
	// Partial: MQTT or STOMP bytes of an unfinished packet remain.
	Partial bool
	GraphQL *GraphQLMsg
	JSONRPC []JSONRPCMsg
}

// Options configure a Conn.
type Options struct {
	// MaxBuffer caps the bytes of an unfinished MQTT packet or STOMP frame
	// held across messages. Default 1 MiB.
	MaxBuffer int
}

// Conn decodes the messages of one WebSocket.
type Conn struct {
	Protocol Protocol
	opts     Options
	dec      decoder
	// sniffing: not yet decided; the first messages are looked at.
	sniffing bool
	seen     int
	sides    [2]bool // a message of the client, of the server was looked at
	problems []Problem
}

type decoder interface {
	message(c *Conn, client, text bool, payload []byte, ts time.Time, info *Info)
	// lost drops what the decoder holds of one side (sideOf).
	lost(side int)
	// end reports, on c, what a side leaves unfinished.
	end(c *Conn, client bool)
}

// maxSniff is how many messages are looked at to recognise a protocol.
const maxSniff = 4

// Choose returns the decoder for a WebSocket with this negotiated
// subprotocol and handshake path: forced (when not None: that one; use
// Off to turn decoding off), by the subprotocol, by the path, or, failing
// those, one that looks at the first messages. It returns nil when
// decoding is off.
func Choose(forced Protocol, off bool, subprotocol, path string, o Options) *Conn {
	if off {
		return nil
	}
	if o.MaxBuffer <= 0 {
		o.MaxBuffer = 1 << 20
	}
	c := &Conn{opts: o}
	p := forced
	if p == None {
		p = bySubprotocol(subprotocol)
	}
	if p == None && isSocketIOPath(path) {
		p = SocketIO
	}
	if p == None {
		c.sniffing = true
		return c
	}
	c.set(p)
	return c
}

func bySubprotocol(sub string) Protocol {
	for _, s := range strings.Split(strings.ToLower(sub), ",") {
		switch s = strings.TrimSpace(s); {
		case s == "mqtt" || s == "mqttv3.1":
			return MQTT
		case s == "v10.stomp" || s == "v11.stomp" || s == "v12.stomp" || s == "stomp":
			return STOMP
		case s == "graphql-transport-ws":
			return GraphQLTransportWS
		case s == "graphql-ws":
			return GraphQLWS
		case s == "jsonrpc" || s == "json-rpc" || s == "jsonrpc-2.0" || s == "jsonrpc2" || s == "json-rpc-2.0":
			return JSONRPC
		}
	}
	return None
}

func isSocketIOPath(path string) bool {
	return strings.Contains(path, "/socket.io/") && strings.Contains(path, "EIO=")
}

func (c *Conn) set(p Protocol) {
	c.Protocol = p
	switch p {
	case SocketIO:
		c.dec = &sioDecoder{}
	case STOMP:
		c.dec = &stompDecoder{}
	case MQTT:
		c.dec = &mqttDecoder{}
	case GraphQLTransportWS, GraphQLWS:
		c.dec = &graphqlDecoder{legacy: p == GraphQLWS}
	case JSONRPC:
		c.dec = &jsonrpcDecoder{}
	}
}

// Message decodes one data message (text or binary, after inflating) sent
// by the client or the server at ts. It returns nil when the message is
// not decoded (decoding not decided yet, or the WebSocket carries none of
// the protocols). Problems returns what it found.
func (c *Conn) Message(client, text bool, payload []byte, ts time.Time) *Info {
	c.problems = c.problems[:0]
	if c.sniffing {
		c.seen++
		if p := sniff(client, text, payload); p != None {
			c.sniffing = false
			c.set(p)
		} else {
			// The marks are in a side's first message (a CONNECT, an
			// Engine.IO open, a connection_init, a request): once both
			// sides have sent one, or after maxSniff, it is none of them.
			c.sides[sideOf(client)] = true
			if c.seen >= maxSniff || c.sides[0] && c.sides[1] {
				c.sniffing = false
			}
			return nil
		}
	}
	if c.dec == nil {
		return nil
	}
	info := &Info{Protocol: c.Protocol}
	c.dec.message(c, client, text, payload, ts, info)
	if info.Summary == "" && len(c.problems) == 0 { // every decoder sums up what it read
		return nil
	}
	return info
}

// End reports what the end of the WebSocket leaves unfinished: a STOMP
// frame without its NUL, an MQTT packet cut short, Socket.IO attachments
// that never came. The problems are valid until the next call.
func (c *Conn) End() []Problem {
	c.problems = c.problems[:0]
	if c.dec != nil {
		c.dec.end(c, true)
		c.dec.end(c, false)
	}
	return c.problems
}

// Sniffing reports whether the protocol is still being recognised.
func (c *Conn) Sniffing() bool { return c.sniffing }

// Done reports whether decoding is over: nothing was recognised in the
// first messages.
func (c *Conn) Done() bool { return !c.sniffing && c.dec == nil }

// Lost tells the Conn that a message of the client (or the server) could
// not be read whole: what it held of that direction is dropped.
func (c *Conn) Lost(client bool) {
	if c.dec != nil {
		c.dec.lost(sideOf(client))
	}
}

// sideOf is the index of a direction's state in the decoders: 0 for the
// client, 1 for the server.
func sideOf(client bool) int {
	if client {
		return 0
	}
	return 1
}

// Problems returns what the last Message found; valid until the next.
func (c *Conn) Problems() []Problem { return c.problems }

func (c *Conn) problem(code string, client bool, detail string) {
	if len(c.problems) < 16 {
		c.problems = append(c.problems, Problem{Code: code, Client: client, Detail: detail})
	}
}

// sniff recognises a protocol from a message, with a confidence a test can
// hold: the marks looked for do not occur in free text or random bytes.
func sniff(client, text bool, b []byte) Protocol {
	switch {
	case !text && client && sniffMQTTConnect(b):
		return MQTT
	case text && client && (hasPrefixLine(b, "CONNECT") || hasPrefixLine(b, "STOMP")) && stompHasHeaders(b):
		return STOMP
	case text && !client && len(b) > 8 && b[0] == '0' && b[1] == '{' && strings.Contains(string(b[:min(len(b), 200)]), `"sid"`):
		return SocketIO // the Engine.IO open packet
	case text && client && len(b) < 1<<16 && bytes.Contains(b[:min(len(b), 256)], []byte(`"connection_init"`)) && jsonHasString(b, "type", "connection_init"):
		return GraphQLTransportWS // the legacy protocol is told by its subprotocol
	case text && jsonRPCShaped(b):
		return JSONRPC
	}
	return None
}

func hasPrefixLine(b []byte, cmd string) bool {
	if len(b) <= len(cmd) || string(b[:len(cmd)]) != cmd {
		return false
	}
	return b[len(cmd)] == '\n' || b[len(cmd)] == '\r'
}
