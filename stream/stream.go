// Package stream is the boundary between TCP reassembly and what reads the
// reassembled bytes: where in the input something happened (Pos), which
// peer sent it (Direction), how a connection ended (EndReason), and the
// Stream that reassembly feeds, one per TCP connection, made by a Factory.
//
// It imports only the standard library, so that both sides use it without
// importing each other: reassembly knows nothing of the protocols above
// TCP, and the dissectors know nothing of sequence numbers.
package stream

import (
	"net/netip"
	"time"
)

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

// Direction says which peer sent bytes.
type Direction uint8

// The two directions of a connection. Reassembly's client is the peer that
// sent the SYN (or the first packet seen); a Stream may learn otherwise
// from the bytes (the peer that sends an HTTP request, or that masks its
// WebSocket frames, is the client).
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

// EndReason is how a connection came to an end. Reassembly ends a Stream
// with EndCaptureEnd, EndFIN, EndRST, EndIdle or EndEvicted; a dissector
// may refine the reason it reports (EndClose, EndRejected).
type EndReason uint8

const (
	EndCaptureEnd EndReason = iota // the input ended
	EndClose                       // closing handshake completed and TCP finished
	EndFIN
	EndRST
	EndIdle     // no packet for the idle timeout
	EndRejected // the upgrade was refused
	EndEvicted  // dropped to stay within the cap on open connections
)

var endNames = [...]string{EndCaptureEnd: "end-of-capture", EndClose: "close-handshake", EndFIN: "fin", EndRST: "rst", EndIdle: "idle-timeout", EndRejected: "rejected", EndEvicted: "evicted"}

func (e EndReason) String() string {
	if int(e) < len(endNames) {
		return endNames[e]
	}
	return "end?"
}

// Conn describes a new TCP connection to a Factory.
type Conn struct {
	// Client is the peer taken for the client: the sender of the SYN (the
	// receiver of a SYN-ACK), or of the first packet seen.
	Client, Server netip.AddrPort
	First          Pos // the connection's first packet
	// Opened says that the first packet was a SYN or SYN-ACK: the
	// beginning of the byte streams is in the capture (or was lost, which
	// a Gap before the first Data says). Without it the capture started
	// mid-stream.
	Opened bool
	// Continues says that the connection's 4-tuple last carried a
	// connection its Stream claimed, ended for being idle: this one most
	// likely continues it, mid-stream.
	Continues bool
}

// A Factory makes the Stream of each new TCP connection.
type Factory interface {
	NewStream(c Conn) Stream
}

// A Stream receives one TCP connection's bytes from reassembly: per
// direction, in sequence order, with what could not be delivered said
// where it was missing. Its methods are called by one goroutine, in input
// order, and never after End.
//
// Data may modify b in place (a WebSocket dissector unmasks client frames
// there) and must not keep it after returning: b is borrowed from the
// reassembly's buffers.
type Stream interface {
	// Data hands over in-order bytes sent in direction dir, completed by
	// the packet at p.
	Data(dir Direction, p Pos, b []byte)
	// Gap says that n bytes of direction dir were not captured, just
	// before the next Data.
	Gap(dir Direction, p Pos, n int64)
	// Truncated says that the packet at p was cut by the capture's
	// snapshot length: its last n payload bytes are missing, just after
	// the Data of its captured bytes.
	Truncated(dir Direction, p Pos, n int64)
	// Overlap says that the packet at p carried n bytes of direction dir
	// that were sent before with different content; reassembly kept the
	// first copy.
	Overlap(dir Direction, p Pos, n int64)
	// BufferCapped says that reassembly gave up waiting for n missing
	// bytes of direction dir because buffering more out-of-order data
	// would pass limit bytes (per connection, or over all connections
	// when total). A Gap for those bytes follows.
	BufferCapped(dir Direction, p Pos, n, limit int64, total bool)
	// Active reports whether the bytes still matter. Once it returns
	// false, reassembly stops buffering and delivering them (ends and
	// gaps are still told).
	Active() bool
	// Prefetch hints that data for the stream comes soon, or its end: an
	// implementation may start loading the state it will touch. A hint
	// never changes a result.
	Prefetch(end bool)
	// End is the last call: the connection finished, went idle, was
	// evicted or the input ended. It reports whether the stream was one
	// its consumer reports on (reassembly counts the connection's
	// packets as such, Stats.ClaimedPackets). After End the Stream may be
	// reused by its Factory.
	End(p Pos, reason EndReason) (claimed bool)
}
