package http2

import (
	"fmt"

	"golang.org/x/net/http2/hpack"
)

// HeaderBlock is one complete header block (RFC 9113 §4.3): a HEADERS
// frame and its CONTINUATIONs, or a PUSH_PROMISE and its.
type HeaderBlock struct {
	Stream uint32
	// Promised is the stream a PUSH_PROMISE reserves; 0 for HEADERS.
	Promised uint32
	// Fields are the decoded fields in order; borrowed, valid only until
	// the Handler returns. When Decoded is false the block could not be
	// decoded (the direction's compression state was lost before it, or
	// it does not decode) and Fields is empty.
	Fields    []hpack.HeaderField
	Decoded   bool
	EndStream bool
	// Dropped counts the fields past the Conn's MaxHeaderList bytes.
	Dropped int
}

// Handler receives what a Conn reads, in the order of the bytes. server
// says which peer sent it.
type Handler interface {
	// Headers is a header block.
	Headers(server bool, hb *HeaderBlock)
	// Data is DATA payload of stream id, padding removed, in order; one
	// frame's payload may come in several pieces, and b is borrowed.
	Data(server bool, id uint32, b []byte)
	// End: the sender ended stream id (END_STREAM, after its last Data
	// or Headers).
	End(server bool, id uint32)
	// Reset: the sender reset stream id (RST_STREAM).
	Reset(server bool, id uint32, code ErrCode)
	// Lost: n DATA bytes of stream id from the sender were not captured.
	// id 0 with n < 0: an unknown amount of DATA of unknown streams (the
	// frame layer lost its place).
	Lost(server bool, id uint32, n int64)
	// Problem reports a rule broken or trouble reading, about stream id
	// (0: the connection).
	Problem(server bool, id uint32, kind Problem, detail string)
}

// Defaults and bounds.
const (
	defaultMaxFrame = 1 << 14 // SETTINGS_MAX_FRAME_SIZE initial value (RFC 9113 §6.5.2)
	maxFrameLimit   = 1<<24 - 1
	// maxBuffered caps a non-DATA frame held whole, and a header block
	// assembled from several frames.
	maxBuffered = 1 << 20
	// DefaultMaxHeaderList caps the decoded size of one header list
	// (name + value + 32 per field, RFC 9113 §6.5.2).
	DefaultMaxHeaderList = 256 << 10
	maxStreams           = 1 << 14 // streams whose state is tracked
	resyncWindow         = 64 << 10
)

// state is where a direction's reader is.
type state uint8

const (
	stPreface state = iota // the client's connection preface
	stHeader               // a frame header
	stData                 // a DATA frame's payload, delivered as it comes
	stPayload              // another frame's payload, held whole
	stSkip                 // bytes to skip: padding, a frame not read
	stResync               // lost: looking for frame headers again
)

// Conn reads both directions of one HTTP/2 connection (RFC 9113) as an
// observer: it parses every frame or skips it by its length, assembles and
// decodes header blocks with one HPACK decoder per direction (every block
// of every stream, in order, so that the dynamic tables stay in step),
// follows stream states and the settings, and hands what it read to its
// Handler. A violation is reported, never an abort.
type Conn struct {
	h    Handler
	dirs [2]reader
	// ConnectProtocol is set once the server sent
	// SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3).
	ConnectProtocol bool
	// MaxHeaderList caps a decoded header list (DefaultMaxHeaderList).
	MaxHeaderList int
	streams       map[uint32]*streamState
	maxID         [2]uint32 // highest stream id opened by the client, by the server
	capped        bool      // maxStreams reached once (reported)
	fields        []hpack.HeaderField
	listSize      int
	dropped       int
	hb            HeaderBlock
}

type streamState struct {
	ended   [2]bool // END_STREAM seen from the client, the server
	resetBy int8    // -1: not reset; 0 client, 1 server
}

// reader is one direction's frame reader.
type reader struct {
	st      state
	hdr     [FrameHeaderLen]byte
	hdrN    int
	fh      FrameHeader
	left    uint32 // payload bytes of the current frame still to come
	pad     uint32 // of them, padding at the end (DATA)
	skipPad bool   // stData: the next byte is the pad length
	buf     []byte // stPayload: the frame so far
	// The header block being assembled (HEADERS/PUSH_PROMISE without
	// END_HEADERS, then CONTINUATION).
	inBlock  bool
	blockHB  HeaderBlock
	block    []byte
	blockBad bool // part of it was lost or too large: not decoded
	dec      *hpack.Decoder
	broken   bool // the compression state is lost: blocks are not decoded
	maxFrame uint32
	preface  int // preface bytes matched
	resync   []byte
	skipped  int64 // resync: bytes skipped so far
}

// NewConn returns a Conn that hands what it reads to h. upgraded is set for
// a connection that switched from HTTP/1.1 (Upgrade: h2c, RFC 9113 §3.2 of
// RFC 7540): stream 1 is the upgrade request, ended by the client.
func NewConn(h Handler, upgraded bool) *Conn {
	c := &Conn{h: h, MaxHeaderList: DefaultMaxHeaderList, streams: map[uint32]*streamState{}}
	for i := range c.dirs {
		r := &c.dirs[i]
		r.maxFrame = defaultMaxFrame
		r.st = stHeader
		r.dec = hpack.NewDecoder(4096, c.emit)
		r.dec.SetMaxStringLength(maxBuffered)
	}
	c.dirs[0].st = stPreface
	if upgraded {
		c.streams[1] = &streamState{ended: [2]bool{true, false}, resetBy: -1}
		c.maxID[0] = 1
	}
	return c
}

func side(server bool) int {
	if server {
		return 1
	}
	return 0
}

// Feed hands the Conn in-order bytes sent by the client (server false) or
// the server. b is not kept; Data slices of it are passed on.
func (c *Conn) Feed(server bool, b []byte) {
	r := &c.dirs[side(server)]
	for len(b) > 0 {
		switch r.st {
		case stPreface:
			b = c.readPreface(r, b)
		case stHeader:
			b = c.readHeader(server, r, b)
		case stData:
			b = c.readData(server, r, b)
		case stPayload:
			n := min(uint32(len(b)), r.left)
			r.buf = append(r.buf, b[:n]...)
			r.left -= n
			b = b[n:]
			if r.left == 0 {
				r.st = stHeader
				c.frame(server, r, r.buf)
				r.buf = r.buf[:0]
			}
		case stSkip:
			n := min(uint32(len(b)), r.left)
			r.left -= n
			b = b[n:]
			if r.left == 0 {
				r.st = stHeader
			}
		case stResync:
			b = c.resync(server, r, b)
		}
	}
}

func (c *Conn) readPreface(r *reader, b []byte) []byte {
	for len(b) > 0 && r.preface < len(Preface) {
		if b[0] != Preface[r.preface] {
			c.h.Problem(false, 0, ProblemMalformed, "the client's connection preface is not PRI * HTTP/2.0 (RFC 9113 §3.4); frames are read from here on")
			r.st = stHeader
			return b
		}
		r.preface++
		b = b[1:]
	}
	if r.preface == len(Preface) {
		r.st = stHeader
	}
	return b
}

func (c *Conn) readHeader(server bool, r *reader, b []byte) []byte {
	if r.hdrN == 0 && len(b) >= FrameHeaderLen {
		r.fh, _ = ParseFrameHeader(b)
		b = b[FrameHeaderLen:]
	} else {
		n := copy(r.hdr[r.hdrN:], b)
		r.hdrN += n
		b = b[n:]
		if r.hdrN < FrameHeaderLen {
			return b
		}
		r.hdrN = 0
		r.fh, _ = ParseFrameHeader(r.hdr[:])
	}
	c.startFrame(server, r)
	return b
}

// startFrame decides how the payload of the frame whose header was just
// read is taken.
func (c *Conn) startFrame(server bool, r *reader) {
	fh := r.fh
	r.left = fh.Length
	if fh.Reserved {
		c.problem(server, fh.StreamID, ProblemMalformed, "a %s frame has the reserved bit of its stream identifier set (RFC 9113 §4.1)", FrameType(fh.Type))
	}
	if fh.Length > r.maxFrame {
		c.problem(server, fh.StreamID, ProblemMalformed, "a %s frame of %d bytes exceeds the peer's SETTINGS_MAX_FRAME_SIZE of %d (RFC 9113 §4.2)", FrameType(fh.Type), fh.Length, r.maxFrame)
	}
	t := FrameType(fh.Type)
	if r.inBlock && t != FrameContinuation {
		c.problem(server, r.blockHB.Stream, ProblemMalformed, "a %s frame came in the middle of the header block of stream %d, which only CONTINUATION frames may continue (RFC 9113 §6.10)", t, r.blockHB.Stream)
		c.abandonBlock(server, r)
	}
	switch {
	case t == FrameData:
		r.pad, r.skipPad = 0, fh.Flags&FlagPadded != 0
		r.st = stData
		if fh.StreamID == 0 {
			c.problem(server, 0, ProblemMalformed, "a DATA frame on stream 0 (RFC 9113 §6.1)")
			r.st = stSkip
		} else if !c.dataAllowed(server, fh.StreamID) {
			r.st = stSkip
		}
		if fh.Length == 0 {
			if r.st == stData {
				c.dataEnd(server, r)
			}
			r.st = stHeader
		}
	case t > FrameContinuation:
		r.st = stSkip // an unknown type: ignored (RFC 9113 §5.5)
	case fh.Length > maxBuffered:
		c.problem(server, fh.StreamID, ProblemMalformed, "a %s frame of %d bytes is larger than wscap reads; it is skipped", t, fh.Length)
		if t == FrameHeaders || t == FramePushPromise || t == FrameContinuation {
			c.loseTable(server, r, "a header block was skipped")
		}
		r.st = stSkip
	default:
		r.st = stPayload
		if fh.Length == 0 {
			r.st = stHeader
			c.frame(server, r, nil)
		}
	}
	if r.st == stSkip && r.left == 0 {
		r.st = stHeader
	}
}

// readData passes on a DATA frame's payload as it comes.
func (c *Conn) readData(server bool, r *reader, b []byte) []byte {
	fh := &r.fh
	if r.skipPad {
		r.skipPad = false
		r.pad = uint32(b[0])
		r.left--
		b = b[1:]
		if r.pad > r.left {
			c.problem(server, fh.StreamID, ProblemMalformed, "a DATA frame's padding (%d bytes) is longer than its payload (RFC 9113 §6.1)", r.pad)
			r.pad = r.left
		}
	}
	data := r.left - r.pad
	n := min(uint32(len(b)), data)
	if n > 0 {
		c.h.Data(server, fh.StreamID, b[:n])
	}
	r.left -= n
	b = b[n:]
	if r.left == r.pad {
		r.st = stSkip
		if r.left == 0 {
			r.st = stHeader
		}
		c.dataEnd(server, r)
	}
	return b
}

// dataEnd is the end of a DATA frame's data (its padding may follow).
func (c *Conn) dataEnd(server bool, r *reader) {
	if r.fh.Flags&FlagEndStream != 0 && r.fh.StreamID != 0 {
		c.endStream(server, r.fh.StreamID)
	}
}

// dataAllowed reports whether the stream's state allows DATA from the
// sender (RFC 9113 §5.1), reporting it when not.
func (c *Conn) dataAllowed(server bool, id uint32) bool {
	s := c.streams[id]
	if s == nil && c.capped {
		return true // the stream table was cleared: DATA is taken on trust
	}
	if s == nil {
		if id > c.maxID[initiator(id)] {
			c.problem(server, id, ProblemStreamState, "DATA on stream %d, which was never opened (RFC 9113 §5.1)", id)
		} else if !c.capped {
			c.problem(server, id, ProblemStreamState, "DATA on stream %d, which is closed (RFC 9113 §5.1)", id)
		}
		return false
	}
	switch {
	case s.resetBy >= 0:
		// Frames in flight when the peer reset the stream are allowed
		// (RFC 9113 §5.4.2); the one that reset it must send no more.
		if int(s.resetBy) == side(server) {
			c.problem(server, id, ProblemStreamState, "DATA on stream %d after its sender reset it (RFC 9113 §5.1)", id)
		}
		return false
	case s.ended[side(server)]:
		c.problem(server, id, ProblemStreamState, "DATA on stream %d after the sender ended it with END_STREAM (RFC 9113 §5.1)", id)
		return false
	}
	return true
}

// frame handles a frame other than DATA, held whole in p.
func (c *Conn) frame(server bool, r *reader, p []byte) {
	fh := r.fh
	id := fh.StreamID
	switch t := FrameType(fh.Type); t {
	case FrameHeaders, FramePushPromise:
		if id == 0 {
			c.problem(server, 0, ProblemMalformed, "a %s frame on stream 0 (RFC 9113 §6.2)", t)
		}
		frag, promised, ok := c.unpad(server, t, fh, p)
		if !ok {
			c.loseTable(server, r, "a header block could not be read")
			return
		}
		r.blockHB = HeaderBlock{Stream: id, Promised: promised, EndStream: t == FrameHeaders && fh.Flags&FlagEndStream != 0}
		r.block = append(r.block[:0], frag...)
		r.blockBad = false
		if fh.Flags&FlagEndHeaders == 0 {
			r.inBlock = true
			return
		}
		c.finishBlock(server, r)
	case FrameContinuation:
		if !r.inBlock || r.blockHB.Stream != id {
			c.problem(server, id, ProblemMalformed, "a CONTINUATION frame on stream %d follows no unfinished header block of that stream (RFC 9113 §6.10)", id)
			c.loseTable(server, r, "a header block could not be assembled")
			return
		}
		if len(r.block)+len(p) > maxBuffered {
			if !r.blockBad {
				c.problem(server, id, ProblemHeaderList, "the header block of stream %d is larger than %d bytes; it is not decoded", id, maxBuffered)
			}
			r.blockBad = true
		} else {
			r.block = append(r.block, p...)
		}
		if fh.Flags&FlagEndHeaders != 0 {
			r.inBlock = false
			c.finishBlock(server, r)
		}
	case FramePriority:
		if len(p) != 5 {
			c.problem(server, id, ProblemMalformed, "a PRIORITY frame of %d bytes; it has 5 (RFC 9113 §6.3)", len(p))
		}
	case FrameRSTStream:
		if len(p) != 4 || id == 0 {
			c.problem(server, id, ProblemMalformed, "a RST_STREAM frame of %d bytes on stream %d; it has 4, on a stream other than 0 (RFC 9113 §6.4)", len(p), id)
			return
		}
		code := ErrCode(be32(p))
		if s := c.streams[id]; s != nil {
			if s.resetBy < 0 {
				s.resetBy = int8(side(server))
			}
		} else if id > c.maxID[initiator(id)] {
			c.problem(server, id, ProblemStreamState, "RST_STREAM on stream %d, which was never opened (RFC 9113 §5.1)", id)
		}
		c.h.Reset(server, id, code)
	case FrameSettings:
		c.settings(server, fh, p)
	case FramePing:
		if len(p) != 8 || id != 0 {
			c.problem(server, id, ProblemMalformed, "a PING frame of %d bytes on stream %d; it has 8, on stream 0 (RFC 9113 §6.7)", len(p), id)
		}
	case FrameGoAway:
		if len(p) < 8 || id != 0 {
			c.problem(server, id, ProblemMalformed, "a GOAWAY frame of %d bytes on stream %d; it has at least 8, on stream 0 (RFC 9113 §6.8)", len(p), id)
		}
	case FrameWindowUpdate:
		if len(p) != 4 {
			c.problem(server, id, ProblemMalformed, "a WINDOW_UPDATE frame of %d bytes; it has 4 (RFC 9113 §6.9)", len(p))
		} else if be32(p)&0x7fffffff == 0 {
			c.problem(server, id, ProblemMalformed, "a WINDOW_UPDATE frame with an increment of 0 (RFC 9113 §6.9)")
		}
	}
}

// unpad takes the padding and the priority (HEADERS) or promised stream
// (PUSH_PROMISE) off a frame's payload and returns the block fragment.
func (c *Conn) unpad(server bool, t FrameType, fh FrameHeader, p []byte) (frag []byte, promised uint32, ok bool) {
	pad := 0
	if fh.Flags&FlagPadded != 0 {
		if len(p) < 1 {
			c.problem(server, fh.StreamID, ProblemMalformed, "a padded %s frame without its pad length (RFC 9113 §6.2)", t)
			return nil, 0, false
		}
		pad = int(p[0])
		p = p[1:]
	}
	fixed := 0
	switch {
	case t == FramePushPromise:
		fixed = 4
	case fh.Flags&FlagPriority != 0:
		fixed = 5
	}
	if fixed+pad > len(p) {
		c.problem(server, fh.StreamID, ProblemMalformed, "a %s frame's padding and fixed fields (%d bytes) exceed its payload (%d bytes) (RFC 9113 §6.2)", t, fixed+pad, len(p))
		return nil, 0, false
	}
	if t == FramePushPromise {
		promised = be32(p) & 0x7fffffff
	}
	return p[fixed : len(p)-pad], promised, true
}

// finishBlock decodes the assembled header block and hands it on.
func (c *Conn) finishBlock(server bool, r *reader) {
	hb := &c.hb
	*hb = r.blockHB
	c.fields, c.listSize, c.dropped = c.fields[:0], 0, 0
	if !r.broken && !r.blockBad {
		r.dec.SetEmitEnabled(true)
		_, err := r.dec.Write(r.block)
		if err == nil {
			err = r.dec.Close()
		}
		if err != nil {
			c.problem(server, hb.Stream, ProblemHPACK, "the header block of stream %d does not decode (RFC 7541): %v; later header blocks from the %s are not decoded", hb.Stream, err, peer(server))
			r.broken = true
		} else {
			hb.Decoded = true
			hb.Fields = c.fields
			hb.Dropped = c.dropped
			if c.dropped > 0 {
				c.problem(server, hb.Stream, ProblemHeaderList, "the header list of stream %d decodes to more than %d bytes (an HPACK bomb?); %d fields past it are dropped", hb.Stream, c.MaxHeaderList, c.dropped)
			}
		}
	} else if r.blockBad {
		r.broken = true
	}
	if len(r.block) > 4096 {
		r.block = nil
	} else {
		r.block = r.block[:0]
	}
	c.openStream(server, hb)
	c.h.Headers(server, hb)
	if hb.EndStream {
		c.endStream(server, hb.Stream)
	}
}

// emit collects a decoded field, within MaxHeaderList.
func (c *Conn) emit(f hpack.HeaderField) {
	size := len(f.Name) + len(f.Value) + 32
	if c.listSize+size > c.MaxHeaderList {
		c.dropped++
		return
	}
	c.listSize += size
	c.fields = append(c.fields, f)
}

// abandonBlock drops an unfinished header block: what the sender's encoder
// put in its dynamic table with it is unknown.
func (c *Conn) abandonBlock(server bool, r *reader) {
	r.inBlock = false
	r.block = r.block[:0]
	c.loseTable(server, r, "a header block was not finished")
}

// loseTable marks the direction's header compression state lost, saying
// so once.
func (c *Conn) loseTable(server bool, r *reader, why string) {
	if r.broken {
		return
	}
	r.broken = true
	c.problem(server, 0, ProblemLoss, "%s: the %s's header compression state is lost (RFC 7541 §2.3), so its later header blocks are not decoded", why, peer(server))
}

// openStream enters the stream of a header block in the stream table.
func (c *Conn) openStream(server bool, hb *HeaderBlock) {
	id := hb.Stream
	if hb.Promised != 0 {
		id = hb.Promised
		if !server {
			c.problem(server, hb.Stream, ProblemMalformed, "the client sent PUSH_PROMISE (RFC 9113 §8.4)")
		}
	}
	if id == 0 {
		return
	}
	s := c.streams[id]
	if s != nil {
		if hb.Promised != 0 {
			c.problem(server, id, ProblemStreamState, "PUSH_PROMISE reserves stream %d, which is already in use (RFC 9113 §5.1)", id)
		} else if s.ended[side(server)] && !hb.EndStream {
			c.problem(server, id, ProblemStreamState, "HEADERS on stream %d after the sender ended it (RFC 9113 §5.1)", id)
		}
		return
	}
	init := initiator(id)
	if id <= c.maxID[init] {
		if !c.capped {
			c.problem(server, id, ProblemStreamState, "HEADERS on stream %d, which is closed (RFC 9113 §5.1)", id)
		}
		return
	}
	if hb.Promised == 0 && init != side(server) {
		c.problem(server, id, ProblemStreamState, "the %s opened stream %d, an identifier of the other peer's (RFC 9113 §5.1.1)", peer(server), id)
	}
	c.maxID[init] = id
	if len(c.streams) >= maxStreams {
		c.prune()
	}
	s = &streamState{resetBy: -1}
	if hb.Promised != 0 {
		s.ended[0] = true // reserved (remote): only the server sends
	}
	c.streams[id] = s
}

// prune forgets the closed streams, or, when none is closed, all.
func (c *Conn) prune() {
	for id, s := range c.streams {
		if s.resetBy >= 0 || s.ended[0] && s.ended[1] {
			delete(c.streams, id)
		}
	}
	if len(c.streams) >= maxStreams {
		clear(c.streams)
		if !c.capped {
			c.capped = true
			c.h.Problem(false, 0, ProblemLoss, fmt.Sprintf("more than %d streams are open at once; wscap stopped following the state of the older ones", maxStreams))
		}
	}
}

func (c *Conn) endStream(server bool, id uint32) {
	s := c.streams[id]
	if s == nil {
		return
	}
	s.ended[side(server)] = true
	c.h.End(server, id)
}

func (c *Conn) settings(server bool, fh FrameHeader, p []byte) {
	if fh.StreamID != 0 {
		c.problem(server, fh.StreamID, ProblemMalformed, "a SETTINGS frame on stream %d (RFC 9113 §6.5)", fh.StreamID)
	}
	if fh.Flags&FlagAck != 0 {
		if len(p) != 0 {
			c.problem(server, 0, ProblemMalformed, "a SETTINGS acknowledgement with a payload of %d bytes (RFC 9113 §6.5)", len(p))
		}
		return
	}
	if len(p)%6 != 0 {
		c.problem(server, 0, ProblemMalformed, "a SETTINGS frame of %d bytes, not a multiple of 6 (RFC 9113 §6.5)", len(p))
	}
	other := &c.dirs[side(!server)] // what the sender's peer sends is bounded by these
	for ; len(p) >= 6; p = p[6:] {
		id, v := SettingID(uint16(p[0])<<8|uint16(p[1])), be32(p[2:])
		switch id {
		case SettingHeaderTableSize:
			other.dec.SetAllowedMaxDynamicTableSize(v)
		case SettingEnablePush:
			if v > 1 {
				c.problem(server, 0, ProblemMalformed, "SETTINGS_ENABLE_PUSH is %d; it is 0 or 1 (RFC 9113 §6.5.2)", v)
			}
		case SettingInitialWindowSize:
			if v > 1<<31-1 {
				c.problem(server, 0, ProblemMalformed, "SETTINGS_INITIAL_WINDOW_SIZE is %d, above 2^31-1 (RFC 9113 §6.5.2)", v)
			}
		case SettingMaxFrameSize:
			if v < defaultMaxFrame || v > maxFrameLimit {
				c.problem(server, 0, ProblemMalformed, "SETTINGS_MAX_FRAME_SIZE is %d, outside 2^14..2^24-1 (RFC 9113 §6.5.2)", v)
			} else {
				other.maxFrame = v
			}
		case SettingEnableConnectProtocol:
			switch {
			case !server:
				// A client may send it; it means nothing (RFC 8441 §3).
			case v > 1:
				c.problem(server, 0, ProblemConnect, "SETTINGS_ENABLE_CONNECT_PROTOCOL is %d; it is 0 or 1 (RFC 8441 §3)", v)
			case v == 0 && c.ConnectProtocol:
				c.problem(server, 0, ProblemConnect, "the server set SETTINGS_ENABLE_CONNECT_PROTOCOL back to 0 after 1 (RFC 8441 §3)")
			case v == 1:
				c.ConnectProtocol = true
			}
		}
	}
}

// Gap tells the Conn that n bytes from the sender were not captured just
// before its next Feed.
func (c *Conn) Gap(server bool, n int64) {
	r := &c.dirs[side(server)]
	if n <= 0 {
		return
	}
	id := r.fh.StreamID
	switch r.st {
	case stData:
		if r.skipPad { // the pad length byte was lost: where the data ends is unknown
			break
		}
		data := int64(r.left - r.pad)
		if k := min(n, data); k > 0 {
			c.h.Lost(server, id, k)
		}
		if n < int64(r.left) || n == int64(r.left) {
			r.left -= uint32(n)
			if r.left <= r.pad {
				r.pad = r.left
				r.st = stSkip
				if r.left == 0 {
					r.st = stHeader
				}
				c.dataEnd(server, r)
			}
			return
		}
	case stPayload, stSkip:
		if n <= int64(r.left) {
			lostBlock := false
			if t := FrameType(r.fh.Type); r.st == stPayload && (t == FrameHeaders || t == FramePushPromise || t == FrameContinuation) {
				c.loseTable(server, r, "bytes of a header block were not captured")
				if t != FrameContinuation {
					r.blockHB = HeaderBlock{Stream: id, EndStream: t == FrameHeaders && r.fh.Flags&FlagEndStream != 0}
				}
				r.inBlock, r.blockBad, lostBlock = true, true, true
			}
			r.buf = r.buf[:0]
			r.left -= uint32(n)
			r.st = stSkip
			if r.left == 0 {
				r.st = stHeader
			}
			if lostBlock && r.fh.Flags&FlagEndHeaders != 0 {
				// The block is handed on undecoded, so that its stream is known.
				r.inBlock = false
				c.finishBlock(server, r)
			}
			return
		}
	case stResync:
		r.skipped += n
		return
	}
	// The loss crosses a frame boundary: the frame layer has lost its place.
	c.loseTable(server, r, "bytes were not captured between frames")
	c.h.Lost(server, 0, -1)
	r.inBlock, r.hdrN, r.buf = false, 0, r.buf[:0]
	r.st = stResync
	r.resync = r.resync[:0]
	r.skipped = 0
}

// resync looks for the next place where two plausible frame headers chain.
func (c *Conn) resync(server bool, r *reader, b []byte) []byte {
	r.resync = append(r.resync, b...)
	buf := r.resync
	for i := 0; i+FrameHeaderLen <= len(buf); i++ {
		h, _ := ParseFrameHeader(buf[i:])
		if !c.plausible(h, r) {
			continue
		}
		next := i + FrameHeaderLen + int(h.Length)
		if next+FrameHeaderLen > len(buf) {
			if next-i > resyncWindow {
				continue // too long to be checked: not taken
			}
			// Wait for more bytes before deciding at i.
			r.skipped += int64(i)
			r.resync = append(r.resync[:0], buf[i:]...)
			return nil
		}
		if h2, _ := ParseFrameHeader(buf[next:]); !c.plausible(h2, r) {
			continue
		}
		if skipped := r.skipped + int64(i); skipped > 0 {
			c.problem(server, 0, ProblemLoss, "frame parsing resumed after skipping %d bytes from the %s", skipped, peer(server))
		} else {
			c.problem(server, 0, ProblemLoss, "frame parsing resumed at a frame header right after the bytes lost from the %s", peer(server))
		}
		rest := buf[i:]
		r.resync, r.skipped = r.resync[:0], 0
		r.st = stHeader
		c.Feed(server, rest)
		return nil
	}
	keep := min(len(buf), FrameHeaderLen-1)
	r.skipped += int64(len(buf) - keep)
	r.resync = append(r.resync[:0], buf[len(buf)-keep:]...)
	return nil
}

// plausible reports whether h could be the next frame of this connection:
// a known type, the R bit clear, within the size limit, on stream 0 for
// the connection-level types and on a stream being followed for DATA.
func (c *Conn) plausible(h FrameHeader, r *reader) bool {
	if h.Type > uint8(FrameContinuation) || h.Reserved || h.Length > r.maxFrame {
		return false
	}
	switch FrameType(h.Type) {
	case FrameSettings:
		return h.StreamID == 0 && h.Length%6 == 0
	case FramePing:
		return h.StreamID == 0 && h.Length == 8
	case FrameGoAway:
		return h.StreamID == 0 && h.Length >= 8
	case FrameWindowUpdate:
		return h.Length == 4
	case FrameRSTStream:
		return h.Length == 4 && h.StreamID != 0
	case FramePriority:
		return h.Length == 5 && h.StreamID != 0
	case FrameData:
		return c.streams[h.StreamID] != nil && h.Flags&^(FlagEndStream|FlagPadded) == 0
	default:
		return h.StreamID != 0 && h.StreamID <= c.maxID[0]+64
	}
}

// Close reports what the end of the input leaves unfinished.
func (c *Conn) Close() {
	for i := range c.dirs {
		r := &c.dirs[i]
		if r.inBlock {
			c.problem(i == 1, r.blockHB.Stream, ProblemMalformed, "the connection ended in the middle of the header block of stream %d", r.blockHB.Stream)
			r.inBlock = false
		}
	}
}

func (c *Conn) problem(server bool, id uint32, kind Problem, format string, args ...any) {
	c.h.Problem(server, id, kind, fmt.Sprintf(format, args...))
}

// initiator is the side that opens stream id: 0, the client, for odd
// ids; 1, the server, for even ones (RFC 9113 §5.1.1).
func initiator(id uint32) int { return int(id&1 ^ 1) }

func peer(server bool) string {
	if server {
		return "server"
	}
	return "client"
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
