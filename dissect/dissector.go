package dissect

import (
	"fmt"

	"github.com/wscap/wscap/dissect/app"
	"net/netip"
	"unsafe"

	"github.com/wscap/wscap/dissect/tls"
	"github.com/wscap/wscap/internal/prefetch"
	"github.com/wscap/wscap/stream"
)

// Options configure a Dissector. The zero value gives the defaults.
type Options struct {
	// MaxMessage caps the payload bytes kept of one message (after
	// decompression); beyond it the message is Truncated. Default 64 MiB.
	MaxMessage int64
	// MaxFrame: a frame header announcing more payload than this is treated
	// as garbage and frame parsing resynchronises. Default 4 GiB.
	MaxFrame uint64
	// MaxHandshake caps one HTTP head of the opening handshake. Default 64 KiB.
	MaxHandshake int
	// MaxAssembling caps the payload bytes held by all messages still being
	// assembled, over all connections of the Dissector; a message that would
	// pass it is truncated. Default 256 MiB.
	MaxAssembling int64
	// Frames asks for a KindFrame event per frame instead of KindMessage
	// events per message.
	Frames bool
	// WSPorts are server ports whose connections are decoded as WebSocket
	// even when no handshake was captured.
	WSPorts []uint16
	// KeyLog, when set, decrypts TLS connections whose secrets it holds
	// (wss://): their plaintext is decoded as a TCP stream's would be.
	KeyLog *tls.KeyLog
	// KeyLogGrows says the key log is still being written (live capture):
	// a TLS connection whose secrets are not there yet holds its records
	// and looks again (tls.Session.Wait).
	KeyLogGrows bool
	// RoundLag is how many rounds of input (SetRound) after a round every
	// Dissector fed by the same pipeline has finished it: a TLS 1.2
	// session resumed without its own key log line uses the master secret
	// of a full handshake decoded that long before (tls.Rounds). 0 keeps
	// such sessions undecrypted.
	RoundLag uint64
	// MaxInflateRatio bounds what decompression may create on one
	// connection: once its compressed messages have inflated to more than
	// inflateGrace bytes, they may inflate to at most this many times
	// their compressed size; past it the message being inflated and every
	// later compressed message of the connection are not inflated
	// (Undecodable, a cap-inflate finding). Default 100; negative: no
	// bound.
	MaxInflateRatio int
	// MaxInflateTotal bounds the bytes decompression creates over all
	// connections of the Dissector; past it no compressed message is
	// inflated. Default 16 GiB.
	MaxInflateTotal int64
	// NoPayload is for consumers that count rather than show messages
	// (wscap stats): uncompressed data messages are not kept, only
	// measured and checked as they stream by (UTF-8 included), and their
	// events carry no Payload. Everything else, findings and caps
	// included, is as without it; compressed messages are still kept to
	// be inflated. It does not combine with Frames.
	NoPayload bool
	// AssumeExtensions and AssumeSubprotocol state what the uncaptured
	// handshake of such a connection negotiated ("permessage-deflate;
	// client_no_context_takeover").
	AssumeExtensions  string
	AssumeSubprotocol string
	// App forces an application protocol decoder on every WebSocket
	// (app.None: chosen per WebSocket, see app.Choose); AppOff turns
	// application decoding off. AppMaxBuffer caps an unfinished MQTT
	// packet or STOMP frame held across messages (default 1 MiB).
	// With NoPayload, the messages of a session are still kept while its
	// application protocol is being recognised or decoded.
	App          app.Protocol
	AppOff       bool
	AppMaxBuffer int
	// AppConn forces a decoder ("mqtt", "none", "auto", ...) on the
	// sessions numbered so; the numbers are the Dissector's own, which
	// are the run's only when one Dissector sees every connection.
	AppConn map[int]string
}

const (
	defaultMaxMessage   = 64 << 20
	defaultMaxFrame     = 4 << 30
	defaultMaxHandshake = 64 << 10
	defaultInflateRatio = 100
	defaultInflateTotal = 16 << 30
	// inflateGrace is what a connection may inflate before its ratio is
	// held to MaxInflateRatio: short messages compress badly or very well
	// (a repeated message under context takeover takes a few bytes).
	inflateGrace = 4 << 20
	// maxPending caps client bytes buffered while the 101 is awaited.
	maxPending = 1 << 20
)

func (o *Options) setDefaults() {
	if o.MaxMessage <= 0 {
		o.MaxMessage = defaultMaxMessage
	}
	if o.MaxInflateRatio == 0 {
		o.MaxInflateRatio = defaultInflateRatio
	}
	if o.MaxInflateTotal <= 0 {
		o.MaxInflateTotal = defaultInflateTotal
	}
	if o.MaxFrame == 0 {
		o.MaxFrame = defaultMaxFrame
	}
	if o.MaxHandshake <= 0 {
		o.MaxHandshake = defaultMaxHandshake
	}
	if o.MaxAssembling <= 0 {
		o.MaxAssembling = 256 << 20
	}
}

// A Dissector creates the Conns of one pipeline shard and hands their events,
// in the order they complete, to one Sink. It is not safe for concurrent use:
// one goroutine feeds all of its connections.
type Dissector struct {
	opts   Options
	sink   Sink
	nextID int
	err    error

	ev    Event // reused for every Emit
	fnd   Finding
	msg   Message
	frame Frame
	pool  bufPool
	// assembling is the payload held by open messages (see MaxAssembling).
	assembling int64
	// inflated is what decompression created so far (MaxInflateTotal).
	inflated int64
	// tlsScratch is what the TLS sessions share (one record at a time).
	tlsScratch tls.Scratch
	// rounds is the round of input being decoded, for TLS 1.2 resumption.
	rounds tls.Rounds
	// midTrials counts the TLS record openings tried on connections picked
	// up after their handshake (tls.MaxMidstreamTrials per Dissector).
	midTrials int64
	// now is the packet being processed: events are never emitted with an
	// earlier position, so that shards' records merge in input order.
	now Pos
	// hold queues findings instead of emitting them (see holdFindings).
	hold   bool
	held   []heldFinding
	inf    inflater
	free   []*Conn // released connections to reuse
	census Census
}

// New returns a Dissector that emits to sink.
// SetRound says which round of input the next packets belong to: the
// pipeline's rounds are handed to every Dissector in the same order.
func (d *Dissector) SetRound(n uint64) { d.rounds.Now = n }

func New(opts Options, sink Sink) *Dissector {
	opts.setDefaults()
	d := &Dissector{opts: opts, sink: sink}
	d.rounds.Lag = opts.RoundLag
	d.inf.pool = &d.pool
	return d
}

// Err returns the first error a Sink returned. After it the Dissector still
// accepts input but emits nothing.
func (d *Dissector) Err() error { return d.err }

// NewConn starts tracking one TCP connection. a is the peer believed to be
// the client (the sender of the SYN, or of the first packet seen); the
// handshake request, when seen, decides. start is the connection's first
// packet.
func (d *Dissector) NewConn(a, b netip.AddrPort, start Pos) *Conn {
	var c *Conn
	if n := len(d.free); n > 0 {
		c, d.free = d.free[n-1], d.free[:n-1]
	} else {
		c = new(Conn)
	}
	c.d = d
	c.info.Client, c.info.Server = a, b
	c.info.First = start
	c.sum.Start = start
	c.sum.End = start
	return c
}

// NewStream is NewConn for reassembly (stream.Factory): the Conn is
// released when it ends.
func (d *Dissector) NewStream(sc stream.Conn) stream.Stream {
	c := d.NewConn(sc.Client, sc.Server, sc.First)
	c.opened = sc.Opened
	c.continues = sc.Continues
	c.pooled = true
	return c
}

// Prefetch hints that data for c is coming soon, or its end: the CPU
// starts loading the parts of c that a data packet touches, and for the end
// the handshake its record includes (see reassembly.Assembler.Prefetch).
func (c *Conn) Prefetch(end bool) {
	base := uintptr(unsafe.Pointer(c))
	prefetch.Lines(base, 3) // the state flags, deflate, the first direction
	prefetch.Lines(base+unsafe.Offsetof(c.dirs)+unsafe.Sizeof(c.dirs[0]), 2)
	prefetch.Lines(base+unsafe.Offsetof(c.sum), int((unsafe.Sizeof(c.sum)+63)/64))
	prefetch.Lines(base+unsafe.Offsetof(c.info), 1)
	if end {
		prefetch.Lines(base+unsafe.Offsetof(c.hs), int((unsafe.Sizeof(c.hs)+63)/64))
	}
}

// Release hands a connection that has ended back to its Dissector, to be
// reused by a later NewConn. Neither c nor what its events pointed to may be
// used afterwards. Releasing is optional: a Conn that is not released is
// left to the garbage collector.
func (c *Conn) Release() {
	if !c.ended {
		return
	}
	d := c.d
	for i := range c.dirs {
		d.pool.put(c.dirs[i].messages.hist.buf)
	}
	*c = Conn{}
	d.free = append(d.free, c)
}

func (d *Dissector) emit(ev *Event) {
	if d.err != nil {
		return
	}
	if err := d.sink.Emit(ev); err != nil {
		d.err = err
	}
}

// finding emits one finding of connection c.
func (d *Dissector) finding(c *Session, p Pos, code Code, from Direction, format string, args ...any) {
	r, ok := RuleFor(code)
	if !ok {
		panic("dissect: unknown finding code " + string(code))
	}
	c.sum.Findings[r.Severity]++
	if d.census.Findings == nil {
		d.census.Findings = map[Code]int64{}
	}
	d.census.Findings[code]++
	f := Finding{Code: code, Severity: r.Severity, RFC: r.RFC, From: from, Blame: r.Blame}
	if len(args) == 0 {
		f.Detail = format
	} else {
		f.Detail = fmt.Sprintf(format, args...)
	}
	if d.hold {
		d.held = append(d.held, heldFinding{c, p, f})
		return
	}
	d.fnd = f
	d.ev = Event{Kind: KindFinding, Conn: &c.info, Pos: p, Finding: &d.fnd}
	d.emit(&d.ev)
}

type heldFinding struct {
	c *Session
	p Pos
	f Finding
}

// holdFindings queues findings until releaseFindings, so that a record can
// be emitted before the findings about it.
func (d *Dissector) holdFindings() { d.hold = true }

func (d *Dissector) releaseFindings() {
	d.hold = false
	for _, h := range d.held {
		d.fnd = h.f
		d.ev = Event{Kind: KindFinding, Conn: &h.c.info, Pos: h.p, Finding: &d.fnd}
		d.emit(&d.ev)
	}
	d.held = d.held[:0]
}
