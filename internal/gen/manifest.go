package gen

import "time"

// Manifest describes a written capture: what an analyzer reading it should
// find. It holds the intended traffic: a Transform that drops segments does
// not change it. Raw frames and raw bytes (Conn.RawFrame, Conn.Raw) are
// counted separately and are not in the message counts or digests.
type Manifest struct {
	Generator string    `json:"generator"`
	Scenario  string    `json:"scenario,omitempty"`
	Seed      uint64    `json:"seed"`
	Format    string    `json:"format"`
	Link      string    `json:"link"`
	Snaplen   int       `json:"snaplen"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Packets   int64     `json:"packets"`
	// PayloadBytes is the TCP payload bytes written (after transforms).
	PayloadBytes int64 `json:"payload_bytes"`
	// MaxOpen is the largest number of connections open at once.
	MaxOpen     int     `json:"max_open"`
	Connections int     `json:"connections"`
	Totals      Traffic `json:"totals"`
	// Digest is the Digest of every message in the capture (String form);
	// DigestCount is its Count.
	Digest      string         `json:"digest"`
	DigestCount int            `json:"digest_count"`
	Conns       []ConnManifest `json:"conns,omitempty"`
}

// ConnManifest describes one connection.
type ConnManifest struct {
	ID     int    `json:"id"`
	Client string `json:"client"` // ip:port
	Server string `json:"server"` // ip:port
	// Status is the handshake response status written (101 on success);
	// 0 when the connection had no handshake or no response.
	Status      int      `json:"status,omitempty"`
	Subprotocol string   `json:"subprotocol,omitempty"`
	Extensions  string   `json:"extensions,omitempty"`
	Deflate     *Deflate `json:"deflate,omitempty"`
	Traffic     Traffic  `json:"traffic"`
	Digest      string   `json:"digest"`
	Packets     int      `json:"packets"`
	RawFrames   int      `json:"raw_frames,omitempty"`
	RawBytes    int      `json:"raw_bytes,omitempty"`
	// Messages lists every message in sending order when
	// Options.RecordMessages is set.
	Messages []MessageRecord `json:"messages,omitempty"`
}

// Traffic holds message counts per direction.
type Traffic struct {
	Client Counts `json:"client"` // client → server
	Server Counts `json:"server"` // server → client
}

// Counts counts messages of one direction by opcode, plus how they were
// sent. PayloadBytes is the plaintext total of the counted messages.
type Counts struct {
	Text         int   `json:"text"`
	Binary       int   `json:"binary"`
	Close        int   `json:"close"`
	Ping         int   `json:"ping"`
	Pong         int   `json:"pong"`
	Other        int   `json:"other,omitempty"` // reserved opcodes
	Compressed   int   `json:"compressed"`      // sent with RSV1
	Fragmented   int   `json:"fragmented"`      // sent in more than one frame
	Frames       int   `json:"frames"`          // frames of counted messages
	PayloadBytes int64 `json:"payload_bytes"`
}

// Messages returns the number of messages of every opcode.
func (c Counts) Messages() int { return c.Text + c.Binary + c.Close + c.Ping + c.Pong + c.Other }

func (c *Counts) add(o Counts) {
	c.Text += o.Text
	c.Binary += o.Binary
	c.Close += o.Close
	c.Ping += o.Ping
	c.Pong += o.Pong
	c.Other += o.Other
	c.Compressed += o.Compressed
	c.Fragmented += o.Fragmented
	c.Frames += o.Frames
	c.PayloadBytes += o.PayloadBytes
}

func (c *Counts) count(op Opcode, n int, compressed bool, frames int) {
	switch op {
	case OpText:
		c.Text++
	case OpBinary:
		c.Binary++
	case OpClose:
		c.Close++
	case OpPing:
		c.Ping++
	case OpPong:
		c.Pong++
	default:
		c.Other++
	}
	if compressed {
		c.Compressed++
	}
	if frames > 1 {
		c.Fragmented++
	}
	c.Frames += frames
	c.PayloadBytes += int64(n)
}

// MessageRecord is one message as sent.
type MessageRecord struct {
	From       string `json:"from"` // "client" or "server"
	Opcode     Opcode `json:"opcode"`
	Size       int    `json:"size"`
	Compressed bool   `json:"compressed,omitempty"`
	Frames     int    `json:"frames"`
	// Hash is MessageHash of the message, 16 hex digits.
	Hash string `json:"hash"`
}
