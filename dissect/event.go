package dissect

import (
	"time"

	"github.com/wscap/wscap/dissect/app"
	"github.com/wscap/wscap/dissect/http1"
	"github.com/wscap/wscap/stream"
)

// Kind says which record an Event carries.
type Kind uint8

const (
	KindHandshake Kind = iota + 1
	KindMessage
	KindFrame
	KindFinding
	KindConnection
	// KindRecognised marks the moment a connection was recognised as
	// WebSocket and numbered: ConnInfo.ID is set from then on. It carries
	// no record; a pipeline that runs on several shards uses it to number
	// connections across shards in input order. Other sinks ignore it.
	KindRecognised
)

var kindNames = [...]string{KindHandshake: "handshake", KindMessage: "message", KindFrame: "frame", KindFinding: "finding", KindConnection: "connection", KindRecognised: "recognised"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind?"
}

// Event is one record handed to a Sink. Exactly one of the pointers matching
// Kind is set. Everything an Event points to, and every slice in it, is
// borrowed: valid only until Emit returns. A sink that keeps data copies it.
type Event struct {
	Kind Kind
	Conn *ConnInfo
	Pos  Pos

	Handshake *Handshake
	Message   *Message
	Frame     *Frame
	Finding   *Finding
	Summary   *Summary
}

// A Sink receives the events of every connection in input order.
type Sink interface {
	Emit(*Event) error
}

// Handshake is the opening handshake of a connection (RFC 6455 §4), or, when
// Captured is false, what is known about a connection whose handshake was
// not in the capture. The KindHandshake event has all of it; by the
// connection's end (Summary.Handshake) only Captured, Method, Path, Host,
// AcceptValid, Status, Subprotocol and Extensions are kept.
type Handshake struct {
	Captured bool
	// Cut is set when the snapshot length cut a head: only the fields
	// shown were captured, and rules about what is missing are not
	// checked.
	Cut bool
	// AcceptUnchecked is set when a cut head left the key or the accept
	// out of the capture: AcceptValid is false, and means nothing.
	AcceptUnchecked bool
	// TLS is set for a connection decrypted from TLS (wss://).
	TLS *TLSInfo
	// H2 is set for a WebSocket over HTTP/2 (RFC 8441), whose handshake is
	// an extended CONNECT answered by a 2xx.
	H2 *H2Handshake
	// Request and Response are the heads as parsed (over HTTP/2, the
	// extended CONNECT's fields and the answer's, with Proto "HTTP/2").
	Request  *http1.RequestHead  // nil when not captured
	Response *http1.ResponseHead // nil when no response was seen

	Method, Path, Host, Origin, UserAgent, Server string
	Key, Accept, ExpectedAccept                   string
	AcceptValid                                   bool
	Version                                       string
	Status                                        int // 0 when no response was seen

	OfferedSubprotocols []string
	Subprotocol         string
	OfferedExtensions   []Extension
	Extensions          []Extension // accepted by the server
}

// H2Handshake says which HTTP/2 stream carries a WebSocket, and what else
// the connection carried by the time of its handshake.
type H2Handshake struct {
	Stream uint32
	// Other lists the connection's other streams seen by then ("GET
	// /status (stream 3)"); the connection record's handshake has none.
	Other []string
}

// Message is one complete (or incomplete) WebSocket message: a data message
// assembled from its frames, or a single control frame (RFC 6455 §5.4-§5.6).
type Message struct {
	From       Direction
	Opcode     Opcode
	Frames     int
	Payload    []byte // unmasked and, when Compressed, inflated; borrowed
	Length     int64  // payload length after unmasking and decompression (may exceed len(Payload) when Truncated)
	WireLength int64  // payload bytes on the wire, summed over the frames
	Compressed bool
	// TextValid reports whether a text message's payload is valid UTF-8.
	TextValid bool

	CloseCode   int // 0 when absent
	CloseReason string

	Truncated   bool // Payload holds fewer than Length bytes (a cap, or a snaplen cut)
	Incomplete  bool // bytes of the message were lost (a gap, or the capture ended)
	Undecodable bool // compressed and could not be inflated: Length is unknown

	Start Pos // packet that carried the first byte of the message

	// App is what the application protocol decoder read from the message
	// (Socket.IO, STOMP, MQTT, GraphQL, JSON-RPC); nil when none did.
	App *app.Info
}

// Frame is one WebSocket frame (RFC 6455 §5.2).
type Frame struct {
	From      Direction
	Fin       bool
	RSV       uint8 // the three RSV bits, RSV1 = 4
	Opcode    Opcode
	Masked    bool
	Key       [4]byte
	Length    uint64 // payload length as announced by the header
	HeaderLen int
	Payload   []byte // unmasked payload bytes (still compressed for a compressed message); borrowed
	Truncated bool   // Payload holds fewer than Length bytes
}

// EndReason is how a connection's record came to be emitted (see
// stream.EndReason).
type EndReason = stream.EndReason

// The reasons a connection ends.
const (
	EndCaptureEnd = stream.EndCaptureEnd
	EndClose      = stream.EndClose
	EndFIN        = stream.EndFIN
	EndRST        = stream.EndRST
	EndIdle       = stream.EndIdle
	EndRejected   = stream.EndRejected
	EndEvicted    = stream.EndEvicted
)

// DirStats counts what one direction sent.
type DirStats struct {
	Messages    int64
	Bytes       int64 // message payload bytes after decompression
	WireBytes   int64 // message payload bytes on the wire
	Frames      int64
	ByOpcode    [16]uint32 // messages by opcode
	Largest     int64
	Compressed  int64 // compressed messages
	CloseCode   int   // code of this peer's Close, 0 if none or empty
	CloseSent   bool
	CloseReason string
}

// Summary is the record of a connection when it ends.
type Summary struct {
	Handshake *Handshake
	Start     Pos
	End       Pos
	// Duration is the time from Start to End counting only the steps
	// between consecutive packets that go forward (see Conn.End): End.TS -
	// Start.TS when the clock never went back, never negative.
	Duration time.Duration
	Reason   EndReason
	Client   DirStats
	Server   DirStats
	// ClosedBy is the peer whose Close came first; valid when ClosedFirst.
	ClosedBy    Direction
	ClosedFirst bool
	Findings    [3]int64 // by severity
	RTT         RTT      // ping→pong round trips
	// App is set when an application protocol was decoded.
	App *AppSummary
}

// AppSummary is what a connection's application protocol carried: the
// protocol, its busiest names (events, topics, destinations, methods)
// with their counts, most first, and the JSON-RPC or GraphQL response
// latencies.
type AppSummary struct {
	Protocol string
	Top      []NameCount
	Latency  RTT
}

// NameCount is a name and how many messages were about it.
type NameCount struct {
	Name  string
	Count int64
}

// Dir returns the stats of direction d.
func (s *Summary) Dir(d Direction) *DirStats {
	if d == ClientToServer {
		return &s.Client
	}
	return &s.Server
}
