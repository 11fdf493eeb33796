package gen

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
)

// defaultStart is the capture start when Options.Start is zero.
func defaultStart() time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) }

// Options configures a Capture.
type Options struct {
	// Seed seeds every random choice; the same seed and script give a
	// byte-identical file.
	Seed uint64
	// Start is the default start of connections; zero is
	// 2024-01-01T00:00:00Z.
	Start  time.Time
	Format Format
	Link   Link
	// Snaplen is the snapshot length in the file header; longer packets are
	// cut (capture length < wire length). 0 is DefaultSnaplen.
	Snaplen int
	// RecordMessages lists every message in ConnManifest.Messages.
	RecordMessages bool
	// Name is recorded as Manifest.Scenario.
	Name string
	// KeyLog receives the TLS secrets of the connections with
	// ConnOptions.TLS, as NSS key log lines.
	KeyLog io.Writer
}

// Capture is a set of scripted connections written as one capture file.
type Capture struct {
	opts    Options
	conns   []*Conn
	sources []func() *Conn
	nextID  int
	written bool
}

// New returns an empty capture.
func New(o Options) *Capture {
	if o.Start.IsZero() {
		o.Start = defaultStart()
	}
	if o.Snaplen <= 0 {
		o.Snaplen = DefaultSnaplen
	}
	return &Capture{opts: o}
}

// Options returns the capture's options with defaults filled in.
func (c *Capture) Options() Options { return c.opts }

// Conn adds a connection and returns it for scripting. Connections start in
// order of ConnOptions.Start (ties in the order added).
func (c *Capture) Conn(o ConnOptions) *Conn {
	conn := NewConn(o)
	conn.id = c.nextID
	c.nextID++
	c.conns = append(c.conns, conn)
	return conn
}

// AddSource adds a lazy stream of connections: Write calls next whenever it
// needs the source's next connection and stops at nil. Connections must come
// in order of start time (an earlier one is moved to its predecessor's); each
// is scripted by the source before it is returned and dropped once written,
// so a source can describe millions of connections in bounded memory. IDs
// follow those of Conn in the order connections are pulled.
func (c *Capture) AddSource(next func() *Conn) { c.sources = append(c.sources, next) }

// ErrWritten reports a second Write of one Capture.
var ErrWritten = errors.New("gen: capture already written")

// Write runs every connection's script and writes the capture to w in
// time order, returning what it wrote. It may be called once.
func (c *Capture) Write(w io.Writer) (*Manifest, error) {
	if c.written {
		return nil, ErrWritten
	}
	c.written = true
	pw, flush, err := newPacketWriter(w, c.opts.Format, c.opts.Link, c.opts.Snaplen)
	if err != nil {
		return nil, fmt.Errorf("gen: writing header: %w", err)
	}
	e := &engine{
		cap:  c,
		pool: writerPool{},
		wire: newWire(c.opts.Link),
		pw:   pw,
		man: &Manifest{
			Generator: "wscapgen",
			Scenario:  c.opts.Name,
			Seed:      c.opts.Seed,
			Format:    c.opts.Format.String(),
			Link:      c.opts.Link.String(),
			Snaplen:   c.opts.Snaplen,
		},
	}
	e.eager = slices.Clone(c.conns)
	slices.SortStableFunc(e.eager, func(a, b *Conn) int {
		return c.startOf(a).Compare(c.startOf(b))
	})
	for _, next := range c.sources {
		src := &source{next: next, prev: math.MinInt64}
		e.pull(src)
		e.sources = append(e.sources, src)
	}
	if err := e.run(); err != nil {
		return e.man, err
	}
	if err := flush(); err != nil {
		return e.man, fmt.Errorf("gen: %w", err)
	}
	e.finishManifest()
	return e.man, nil
}

func (c *Capture) startOf(conn *Conn) time.Time {
	if conn.opts.Start.IsZero() {
		return c.opts.Start
	}
	return conn.opts.Start
}

type source struct {
	next func() *Conn
	peek *Conn
	at   int64
	prev int64
}

// packet is a segment waiting in the merge heap.
type packet struct {
	t   int64
	seq uint64
	s   *connState
	seg Segment
}

type engine struct {
	cap     *Capture
	pool    writerPool
	wire    *wire
	pw      packetWriter
	man     *Manifest
	eager   []*Conn
	ei      int
	sources []*source
	open    []*connState // min-heap by (now, id)
	pend    []*packet    // min-heap by (t, seq)
	free    []*packet
	seq     uint64
	digest  Digest
	first   int64
	last    int64
	nopen   int
}

func (e *engine) pull(src *source) {
	src.peek = src.next()
	if src.peek == nil {
		return
	}
	src.peek.id = e.cap.nextID
	e.cap.nextID++
	src.at = max(e.cap.startOf(src.peek).UnixNano(), src.prev)
	src.prev = src.at
}

// nextStart returns the earliest connection not yet started.
func (e *engine) nextStart() (conn *Conn, at int64, src *source) {
	at = math.MaxInt64
	if e.ei < len(e.eager) {
		conn = e.eager[e.ei]
		at = e.cap.startOf(conn).UnixNano()
	}
	for _, s := range e.sources {
		if s.peek != nil && s.at < at {
			conn, at, src = s.peek, s.at, s
		}
	}
	return conn, at, src
}

func (e *engine) run() error {
	for {
		conn, at, src := e.nextStart()
		var top *connState
		if len(e.open) > 0 {
			top = e.open[0]
		}
		switch {
		case conn == nil && top == nil:
			return e.drain(math.MaxInt64)
		case conn != nil && (top == nil || at <= top.now):
			if src != nil {
				e.pull(src)
			} else {
				e.ei++
			}
			if err := e.start(conn, at); err != nil {
				return err
			}
		default:
			now := top.now
			more := top.runStep()
			for more && len(top.out) == 0 && top.now == now && top.err == nil {
				more = top.runStep()
			}
			e.queue(top)
			if top.err != nil {
				return top.err
			}
			if more {
				heapFix(e.open, 0, openLess)
			} else {
				heapPop(&e.open, openLess)
				e.finish(top)
			}
		}
		wm := int64(math.MaxInt64)
		if _, at, _ := e.nextStart(); at < wm {
			wm = at
		}
		if len(e.open) > 0 {
			wm = min(wm, e.open[0].now)
		}
		if err := e.drain(wm); err != nil {
			return err
		}
	}
}

// start sets up a connection at time at.
func (e *engine) start(c *Conn, at int64) error {
	o := &c.opts
	s := &connState{
		c:       c,
		id:      c.id,
		rng:     rand.New(rand.NewPCG(e.cap.opts.Seed, mix(uint64(c.id)))),
		v6:      o.IPv6,
		rtt:     int64(o.RTT),
		gap:     int64(o.Gap),
		jitter:  int64(o.Jitter),
		segGap:  int64(o.SegmentGap),
		start:   at,
		now:     at,
		last:    at,
		pool:    e.pool,
		level:   o.DeflateLevel,
		persist: o.PersistentDeflate,
		record:  e.cap.opts.RecordMessages,
		step:    -1,
	}
	if s.rtt <= 0 {
		s.rtt = int64(200 * time.Microsecond)
	}
	switch {
	case s.gap == 0:
		s.gap = int64(time.Millisecond)
	case s.gap < 0:
		s.gap = 0
	}
	switch {
	case s.segGap == 0:
		s.segGap = int64(10 * time.Microsecond)
	case s.segGap < 0:
		s.segGap = 0
	}
	if s.level == 0 {
		s.level = flate.BestSpeed
	}
	if s.level < flate.HuffmanOnly || s.level > flate.BestCompression {
		return fmt.Errorf("gen: conn %d: bad DeflateLevel %d", c.id, o.DeflateLevel)
	}
	s.addr = [2]netip.AddrPort{o.Client, o.Server}
	if !s.addr[0].IsValid() || !s.addr[1].IsValid() {
		cl, sv := defaultAddrs(c.id, o.IPv6)
		if !s.addr[0].IsValid() {
			s.addr[0] = cl
		}
		if !s.addr[1].IsValid() {
			s.addr[1] = sv
		}
	}
	s.v6 = s.addr[0].Addr().Is6() && !s.addr[0].Addr().Is4In6()
	if s.v6 != (s.addr[1].Addr().Is6() && !s.addr[1].Addr().Is4In6()) {
		return fmt.Errorf("gen: conn %d: client %v and server %v differ in IP version", c.id, s.addr[0], s.addr[1])
	}
	for d := range 2 {
		a := s.addr[d].Addr().Unmap()
		s.ip[d] = a.AsSlice()
		s.mac[d] = macFor(a)
	}
	s.mss = o.MSS
	if s.mss <= 0 {
		s.mss = 1460
		if s.v6 {
			s.mss = 1440
		}
	}
	isn := [2]uint32{s.rng.Uint32(), s.rng.Uint32()}
	s.ipid = [2]uint16{uint16(s.rng.Uint32()), uint16(s.rng.Uint32())}
	if o.FixISN {
		isn = [2]uint32{o.ClientISN, o.ServerISN}
	}
	s.seq = isn
	if o.TLS && o.NoTCPHandshake {
		return fmt.Errorf("gen: conn %d: TLS needs the TCP handshake", c.id)
	}
	if !o.NoTCPHandshake {
		s.tcpHandshake()
		s.now = s.last + s.gap
		if o.TLS {
			if err := s.tlsHandshake(e.cap.opts.KeyLog, o.SNI); err != nil {
				return err
			}
			s.now = s.last + s.gap
		}
	} else {
		// Mid-stream: the handshake happened before the capture.
		s.seq[0]++
		s.seq[1]++
	}
	s.man = ConnManifest{ID: c.id, Client: s.addr[0].String(), Server: s.addr[1].String()}
	s.manIdx = len(e.man.Conns)
	e.man.Conns = append(e.man.Conns, ConnManifest{})
	e.nopen++
	e.man.MaxOpen = max(e.man.MaxOpen, e.nopen)
	if o.Transform == nil {
		e.queue(s)
		heapPush(&e.open, s, openLess)
		return nil
	}
	// Buffered: generate the whole connection, transform, queue.
	for s.runStep() {
		if s.err != nil {
			return s.err
		}
	}
	if s.err != nil {
		return s.err
	}
	info := ConnInfo{ID: c.id, Client: s.addr[0], Server: s.addr[1], MSS: s.mss}
	s.out = o.Transform(info, s.out)
	for i := range s.out {
		if s.out[i].Time.UnixNano() < at {
			s.out[i].Time = time.Unix(0, at).UTC()
		}
	}
	e.queue(s)
	e.finish(s)
	return nil
}

// mix scrambles a connection ID into a PCG stream selector (splitmix64).
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// defaultAddrs derives unique endpoints from a connection ID.
func defaultAddrs(id int, v6 bool) (client, server netip.AddrPort) {
	host, port := uint32(id/32768)+1, uint16(32768+id%32768)
	if v6 {
		c := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1}
		c[12], c[13], c[14], c[15] = byte(host>>24), byte(host>>16), byte(host>>8), byte(host)
		s := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(1 + id%4)}
		return netip.AddrPortFrom(netip.AddrFrom16(c), port), netip.AddrPortFrom(netip.AddrFrom16(s), 80)
	}
	h := 198<<24 | 18<<16 + host // 198.18.0.1 onwards, within 198.18.0.0/15
	c := netip.AddrFrom4([4]byte{byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h)})
	s := netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + id%4)})
	return netip.AddrPortFrom(c, port), netip.AddrPortFrom(s, 80)
}

// queue moves a connection's new segments into the merge heap.
func (e *engine) queue(s *connState) {
	for i := range s.out {
		var p *packet
		if n := len(e.free); n > 0 {
			p, e.free = e.free[n-1], e.free[:n-1]
		} else {
			p = new(packet)
		}
		p.seg = s.out[i]
		p.t = p.seg.Time.UnixNano()
		p.seq = e.seq
		p.s = s
		e.seq++
		heapPush(&e.pend, p, pktLess)
	}
	clear(s.out)
	s.out = s.out[:0]
}

// finish records a finished connection.
func (e *engine) finish(s *connState) {
	e.nopen--
	for _, c := range s.comp {
		if c != nil {
			c.release()
		}
	}
	s.comp = [2]*compressor{}
	s.man.Digest = s.digest.String()
	s.man.Packets = e.man.Conns[s.manIdx].Packets
	e.man.Conns[s.manIdx] = s.man
	e.digest.Merge(s.digest)
	e.man.Totals.Client.add(s.man.Traffic.Client)
	e.man.Totals.Server.add(s.man.Traffic.Server)
	s.c.steps = nil // the script is spent; let it go
}

// drain writes every queued packet with a time at or before wm.
func (e *engine) drain(wm int64) error {
	for len(e.pend) > 0 && e.pend[0].t <= wm {
		p := heapPop(&e.pend, pktLess)
		if err := e.emit(p); err != nil {
			return err
		}
		p.s, p.seg = nil, Segment{}
		e.free = append(e.free, p)
	}
	return nil
}

func (e *engine) emit(p *packet) error {
	s := p.s
	e.man.PayloadBytes += int64(len(p.seg.Payload))
	if tr := s.c.opts.IPTransform; tr != nil {
		ip, err := e.wire.ipPacket(s, &p.seg)
		if err != nil {
			return fmt.Errorf("gen: conn %d: serialising: %w", s.id, err)
		}
		info := ConnInfo{ID: s.id, Client: s.addr[0], Server: s.addr[1], MSS: s.mss}
		for _, pkt := range tr(info, &p.seg, slices.Clone(ip)) {
			if err := e.write(p, e.wire.frame(s, p.seg.Dir&1, pkt)); err != nil {
				return err
			}
		}
		return nil
	}
	data, err := e.wire.packet(s, &p.seg)
	if err != nil {
		return fmt.Errorf("gen: conn %d: serialising: %w", s.id, err)
	}
	return e.write(p, data)
}

// write writes one link-layer frame of p's connection at p's time.
func (e *engine) write(p *packet, data []byte) error {
	ci := gopacket.CaptureInfo{Timestamp: p.seg.Time, Length: len(data), CaptureLength: len(data)}
	if ci.CaptureLength > e.cap.opts.Snaplen {
		ci.CaptureLength = e.cap.opts.Snaplen
		data = data[:ci.CaptureLength]
	}
	if err := e.pw.WritePacket(ci, data); err != nil {
		return fmt.Errorf("gen: writing packet: %w", err)
	}
	if e.man.Packets == 0 {
		e.first = p.t
	}
	e.last = p.t
	e.man.Packets++
	e.man.Conns[p.s.manIdx].Packets++
	return nil
}

func (e *engine) finishManifest() {
	e.man.Digest = e.digest.String()
	e.man.DigestCount = e.digest.Count
	if e.man.Packets > 0 {
		e.man.Start = time.Unix(0, e.first).UTC()
		e.man.End = time.Unix(0, e.last).UTC()
	}
	slices.SortStableFunc(e.man.Conns, func(a, b ConnManifest) int { return a.ID - b.ID })
	e.man.Connections = len(e.man.Conns)
}
