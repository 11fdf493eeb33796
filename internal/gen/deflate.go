package gen

import (
	"bytes"
	"compress/flate"
	"strconv"
	"strings"
)

// Deflate holds negotiated permessage-deflate parameters (RFC 7692 §7.1).
// Window bits are 8 to 15; 0 means the parameter is absent (15).
// client_* parameters govern the client→server direction, server_* the
// server→client one.
//
// How the generator honours them, per direction:
//   - no_context_takeover: every message is compressed by a reset
//     flate.Writer, so no back-reference reaches an earlier message.
//   - context takeover, 15 bits: the direction keeps the last 32 KiB of
//     plaintext of its compressed messages; each message is compressed by a
//     pooled flate.Writer that is first Reset and primed by writing that
//     history and calling Flush (the priming output is discarded), then fed
//     the message and flushed. The bytes after the priming flush are a valid
//     continuation for a receiver whose window holds that history, without
//     flate.NewWriterDict (see DESIGN.md pitfalls) and at 32 KiB per
//     direction instead of ~1 MiB per live flate.Writer. ConnOptions.
//     PersistentDeflate instead keeps one flate.Writer per direction for the
//     connection's life and calls Flush per message.
//   - max_window_bits N < 15: compress/flate always uses a 32 KiB window,
//     so a message of at most 2^N bytes is compressed after priming with
//     only the last 2^N−len(message) bytes of history (none without context
//     takeover), which keeps every back-reference within 2^N; a longer
//     message is compressed with flate.HuffmanOnly, which has no
//     back-references at all.
//
// Uncompressed messages (RSV1 clear) never enter the history (RFC 7692
// §7.2.3.2 counts only compressed messages in the window).
type Deflate struct {
	ServerNoContextTakeover bool `json:"server_no_context_takeover,omitempty"`
	ClientNoContextTakeover bool `json:"client_no_context_takeover,omitempty"`
	ServerMaxWindowBits     int  `json:"server_max_window_bits,omitempty"`
	ClientMaxWindowBits     int  `json:"client_max_window_bits,omitempty"`
}

// String returns the extension as the server's response lists it, e.g.
// "permessage-deflate; server_no_context_takeover; client_max_window_bits=10".
func (d Deflate) String() string {
	s := d.common()
	if d.ClientMaxWindowBits != 0 {
		s += "; client_max_window_bits=" + strconv.Itoa(d.ClientMaxWindowBits)
	}
	return s
}

// Offer returns a client offer that the response String can accept: the
// server_* parameters as requests, client_no_context_takeover when set, and
// a valueless client_max_window_bits so the server may choose one.
func (d Deflate) Offer() string { return d.common() + "; client_max_window_bits" }

// common is what offer and response write alike: the name, the
// no_context_takeover parameters and server_max_window_bits.
func (d Deflate) common() string {
	var b strings.Builder
	b.WriteString("permessage-deflate")
	if d.ServerNoContextTakeover {
		b.WriteString("; server_no_context_takeover")
	}
	if d.ClientNoContextTakeover {
		b.WriteString("; client_no_context_takeover")
	}
	if d.ServerMaxWindowBits != 0 {
		b.WriteString("; server_max_window_bits=")
		b.WriteString(strconv.Itoa(d.ServerMaxWindowBits))
	}
	return b.String()
}

// params returns the takeover flag and window bits governing dir.
func (d Deflate) params(dir Direction) (takeover bool, bits int) {
	if dir == FromClient {
		takeover, bits = !d.ClientNoContextTakeover, d.ClientMaxWindowBits
	} else {
		takeover, bits = !d.ServerNoContextTakeover, d.ServerMaxWindowBits
	}
	if bits <= 0 || bits > 15 {
		bits = 15
	}
	if bits < 8 {
		bits = 8
	}
	return takeover, bits
}

// writerPool recycles flate.Writers by level; one per Write, single goroutine.
type writerPool map[int][]*flate.Writer

func (p writerPool) get(level int, dst *bytes.Buffer) *flate.Writer {
	if ws := p[level]; len(ws) > 0 {
		w := ws[len(ws)-1]
		p[level] = ws[:len(ws)-1]
		w.Reset(dst)
		return w
	}
	w, err := flate.NewWriter(dst, level)
	if err != nil {
		panic(err) // levels are validated by the caller
	}
	return w
}

func (p writerPool) put(level int, w *flate.Writer) { p[level] = append(p[level], w) }

// trailer is the empty stored block that ends every Flush (RFC 7692 §7.2.1).
var trailer = []byte{0x00, 0x00, 0xff, 0xff}

// compressor compresses the messages of one direction.
type compressor struct {
	pool       writerPool
	level      int
	takeover   bool
	bits       int
	persistent bool
	w          *flate.Writer // persistent writer
	hist       []byte        // takeover history, at most 2^bits bytes kept
	buf        bytes.Buffer
}

func newCompressor(pool writerPool, d Deflate, dir Direction, level int, persistent bool) *compressor {
	takeover, bits := d.params(dir)
	return &compressor{pool: pool, level: level, takeover: takeover, bits: bits,
		persistent: persistent && takeover && bits == 15}
}

// compress returns the compressed form of msg with the trailing
// 00 00 ff ff removed (RFC 7692 §7.2.1). The result is valid until the
// next call.
func (c *compressor) compress(msg []byte) []byte {
	win := 1 << c.bits
	c.buf.Reset()
	mark := 0
	switch {
	case c.persistent:
		if c.w == nil {
			c.w = c.pool.get(c.level, &c.buf)
		}
		c.w.Write(msg)
		c.w.Flush()
	case c.bits < 15 && len(msg) > win:
		w := c.pool.get(flate.HuffmanOnly, &c.buf)
		w.Write(msg)
		w.Flush()
		c.pool.put(flate.HuffmanOnly, w)
	default:
		w := c.pool.get(c.level, &c.buf)
		if c.takeover {
			r := min(len(c.hist), 1<<15)
			if c.bits < 15 {
				r = min(r, win-len(msg))
			}
			if r > 0 {
				w.Write(c.hist[len(c.hist)-r:])
				w.Flush()
				mark = c.buf.Len()
			}
		}
		w.Write(msg)
		w.Flush()
		c.pool.put(c.level, w)
	}
	if c.takeover && !c.persistent {
		c.remember(msg, min(win, 1<<15))
	}
	out := c.buf.Bytes()[mark:]
	return bytes.TrimSuffix(out, trailer)
}

// remember appends msg to the history. At least the last keep bytes are
// kept; the buffer is trimmed lazily at 2*keep so that appends stay cheap,
// and compress replays only the tail it needs.
func (c *compressor) remember(msg []byte, keep int) {
	if len(msg) >= keep {
		c.hist = append(c.hist[:0], msg[len(msg)-keep:]...)
		return
	}
	if len(c.hist)+len(msg) > 2*keep {
		n := copy(c.hist, c.hist[len(c.hist)-(keep-len(msg)):])
		c.hist = c.hist[:n]
	}
	c.hist = append(c.hist, msg...)
}

// release returns a persistent writer to the pool.
func (c *compressor) release() {
	if c.w != nil {
		c.pool.put(c.level, c.w)
		c.w = nil
	}
}
