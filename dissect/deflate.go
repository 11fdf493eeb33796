package dissect

import (
	"bytes"
	"errors"
	"io"
	"strconv"

	"github.com/klauspost/compress/flate"

	"github.com/wscap/wscap/dissect/http1"
)

// deflateParams is the negotiated permessage-deflate state (RFC 7692 §7.1),
// indexed by Direction where it differs per direction.
type deflateParams struct {
	on         bool
	perFrame   bool    // x-webkit-deflate-frame: every frame is compressed on its own
	noTakeover [2]bool // [ClientToServer] = client_no_context_takeover
	bits       [2]int  // LZ77 window bits of each sender: [ClientToServer] = client_max_window_bits
}

// negotiateDeflate reads the accepted permessage-deflate element and checks
// it against the client's offers (RFC 7692 §7.1).
func negotiateDeflate(acc Extension, offers []Extension, f func(Code, string, ...any)) deflateParams {
	dp := deflateParams{on: true, bits: [2]int{15, 15}}
	seen := map[string]bool{}
	for _, prm := range acc.Params {
		name := http1.LowerASCII(prm.Name)
		if seen[name] {
			f(CodeDeflateParam, "permessage-deflate parameter %s appears twice in the response", name)
			continue
		}
		seen[name] = true
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if prm.HasValue {
				f(CodeDeflateParam, "%s takes no value, got %q", name, prm.Value)
			}
			if name == "server_no_context_takeover" {
				dp.noTakeover[ServerToClient] = true
			} else {
				dp.noTakeover[ClientToServer] = true
			}
		case "server_max_window_bits", "client_max_window_bits":
			bits, ok := windowBits(prm)
			if !ok {
				f(CodeDeflateParam, "%s must have a value from 8 to 15 in a response, got %q", name, prm.Value)
				continue
			}
			dir := ServerToClient
			if name == "client_max_window_bits" {
				dir = ClientToServer
				if !anyOfferHas(offers, name) {
					f(CodeDeflateNotOffered, "the server set client_max_window_bits=%d, which the client did not offer", bits)
				}
			} else if o, ok := offerBits(offers, name); ok && bits > o {
				f(CodeDeflateParam, "server_max_window_bits=%d exceeds the %d the client offered", bits, o)
			}
			dp.bits[dir] = bits
		default:
			f(CodeDeflateParam, "unknown permessage-deflate parameter %q in the response", prm.Name)
		}
	}
	return dp
}

func windowBits(p ExtensionParam) (int, bool) {
	if !p.HasValue {
		return 0, false
	}
	n, err := strconv.Atoi(p.Value)
	if err != nil || n < 8 || n > 15 || strconv.Itoa(n) != p.Value {
		return 0, false
	}
	return n, true
}

func anyOfferHas(offers []Extension, name string) bool {
	for _, o := range offers {
		if _, ok := o.Param(name); ok {
			return true
		}
	}
	return false
}

// offerBits returns the largest value offered for name.
func offerBits(offers []Extension, name string) (int, bool) {
	best, found := 0, false
	for _, o := range offers {
		p, ok := o.Param(name)
		if !ok {
			continue
		}
		if !p.HasValue {
			return 15, true
		}
		if b, ok := windowBits(p); ok && b > best {
			best, found = b, true
		}
	}
	return best, found
}

// history is one direction's permessage-deflate history (RFC 7692 §7.2.2):
// the last window bytes its messages inflated to, which a later message
// may refer to with context takeover.
type history struct {
	buf []byte // at most the window
	// since counts the bytes inflated since a loss, up to the window: the
	// history is known again once they fill it.
	since    uint32
	lost     bool // unknown after a loss
	reported bool // a loss was reported (once per direction)
}

// deflateTail ends a permessage-deflate message for a raw DEFLATE reader:
// the 00 00 ff ff the sender removed (RFC 7692 §7.2.2), then an empty final
// stored block so that the reader reports io.EOF instead of waiting.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// keepInflated is the largest output buffer kept between messages.
const keepInflated = 8 << 20

// inflateBudget is what a connection's compressed messages took in and
// gave out, against Options.MaxInflateRatio and MaxInflateTotal.
type inflateBudget struct {
	wire, out int64
	spent     bool // a bound was hit: nothing more is inflated
}

// errInflateBudget is the inflater's error when a message would pass the
// budget it was given.
var errInflateBudget = errors.New("inflate budget spent")

// room returns how many bytes a compressed message of wire bytes may
// inflate to, on c.
func (d *Dissector) inflateRoom(c *Session, wire int) int64 {
	b := &c.budget
	room := d.opts.MaxInflateTotal - d.inflated
	if r := d.opts.MaxInflateRatio; r > 0 {
		room = min(room, max(inflateGrace, int64(r)*(b.wire+int64(wire)))-b.out)
	}
	return room
}

// spend counts a message of wire bytes that inflated to n bytes (as far as
// it went), and reports the bound it passed, once per connection (err is
// errInflateBudget). After that nothing more is inflated on c.
func (d *Dissector) spend(c *Session, p Pos, dir Direction, wire int, n int64, err error) {
	b := &c.budget
	b.wire += int64(wire)
	b.out += n
	d.inflated += n
	if err != errInflateBudget || b.spent {
		return
	}
	b.spent = true
	if d.inflated > d.opts.MaxInflateTotal {
		d.finding(c, p, CodeInflateCapped, dir, "the run's compressed messages inflated to more than the inflate cap of %d bytes (Options.MaxInflateTotal); this message and every later compressed message are not inflated", d.opts.MaxInflateTotal)
		return
	}
	d.finding(c, p, CodeInflateCapped, dir, "this connection's compressed messages inflate to more than %d times their %d bytes (the inflate ratio cap, Options.MaxInflateRatio; %d bytes so far): a decompression bomb? This message and its later compressed messages are not inflated", d.opts.MaxInflateRatio, b.wire, b.out)
}

// inflater is the one DEFLATE reader a Dissector shares between all its
// connections: it is re-primed per message with the sending direction's
// history as dictionary, so a connection costs only the history it has.
type inflater struct {
	pool *bufPool // histories grow in its buffers
	r    io.ReadCloser
	// src reads the message's compressed bytes followed by deflateTail,
	// copied into wire: flate's decoder has a fast path for a
	// *bytes.Reader (it needs an io.ByteReader not to add a bufio.Reader).
	src   bytes.Reader
	wire  []byte
	out   []byte // reused output buffer
	chunk []byte // scratch for output past the cap
}

// inflate decompresses one message. It keeps at most max bytes of output
// (returned in out, valid until the next call), counts the full length, and
// updates hist to the last window bytes of history + output. A message that
// does not inflate returns err; hist is then unknown and the caller forgets it.
// A nil hist is no history, and none is kept (no context takeover): a
// direction then holds no buffer between messages.
//
// budget bounds total: a message that would inflate to more stops there
// with errInflateBudget (hist is then unknown too).
func (in *inflater) inflate(wire []byte, hist *[]byte, window int, max, budget int64) (out []byte, total int64, err error) {
	if budget <= 0 {
		return nil, 0, errInflateBudget
	}
	if cap(in.wire) > keepInflated {
		in.wire = nil // do not keep a huge buffer after a huge message
	}
	in.wire = append(append(in.wire[:0], wire...), deflateTail...)
	in.src.Reset(in.wire)
	var dict []byte
	if hist != nil {
		dict = *hist
	}
	if in.r == nil {
		in.r = flate.NewReader(&in.src)
		in.r.(flate.Resetter).Reset(&in.src, dict)
	} else if err := in.r.(flate.Resetter).Reset(&in.src, dict); err != nil {
		return nil, 0, err
	}
	if cap(in.out) > keepInflated {
		in.out = nil // do not keep a huge buffer after a huge message
	}
	if in.out == nil {
		in.out = make([]byte, 0, 64<<10)
	}
	in.out = in.out[:0]
	// tail keeps the last window bytes of output once output passes max.
	var tail []byte
	for {
		if int64(len(in.out)) < max {
			if len(in.out) == cap(in.out) {
				grown := make([]byte, len(in.out), min(int64(2*cap(in.out)), max))
				copy(grown, in.out)
				in.out = grown
			}
			room := in.out[len(in.out):cap(in.out)]
			if int64(len(room)) > max-int64(len(in.out)) {
				room = room[:max-int64(len(in.out))]
			}
			n, rerr := in.r.Read(room)
			in.out = in.out[:len(in.out)+n]
			total += int64(n)
			if total > budget {
				return in.out, total, errInflateBudget
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return in.out, total, rerr
			}
			continue
		}
		if in.chunk == nil {
			in.chunk = make([]byte, 32<<10)
		}
		n, rerr := in.r.Read(in.chunk)
		total += int64(n)
		if total > budget {
			in.pool.put(tail)
			return in.out, total, errInflateBudget
		}
		if hist != nil {
			tail = in.pool.appendWindow(tail, in.chunk[:n], window)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return in.out, total, rerr
		}
	}
	switch {
	case hist == nil:
	case tail == nil:
		*hist = in.pool.appendWindow(*hist, in.out, window)
	default:
		*hist = in.pool.appendWindow((*hist)[:0], tail, window)
		in.pool.put(tail)
	}
	return in.out, total, nil
}

// appendWindow appends b to h and keeps only the last window bytes. h never
// holds more than window bytes, so a connection's history costs what it has
// seen, up to the window; it grows in p's buffers.
func (p *bufPool) appendWindow(h, b []byte, window int) []byte {
	if len(b) >= window {
		h, b = h[:0], b[len(b)-window:]
	} else if len(h)+len(b) > window {
		drop := len(h) + len(b) - window
		h = h[:copy(h, h[drop:])]
	}
	if len(h)+len(b) > cap(h) {
		nb := p.get(min(max(len(h)+len(b), 2*cap(h)), window))
		nb = append(nb, h...)
		p.put(h)
		h = nb
	}
	return append(h, b...)
}
