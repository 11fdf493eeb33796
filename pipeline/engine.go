// Package pipeline is wscap's engine: it wires a capture source through
// reassembly and dissect to an output writer, spread over cores without
// changing the output. read, stats, live, the benchmarks and the tests run
// it; cmd/wscap only adds flags, signals and the terminal.
package pipeline

import (
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/wscap/wscap/dissect"
	"github.com/wscap/wscap/output"
	"github.com/wscap/wscap/pcap"
	"github.com/wscap/wscap/pcap/defrag"
	"github.com/wscap/wscap/reassembly"
)

// The engine spreads the pipeline over cores without changing its output.
//
// One goroutine reads packets, decodes them down to TCP, copies each
// payload once into the batch of the shard its connection hashes to, and
// numbers packets. Each shard (one goroutine) owns the connections that hash
// to it: its own Assembler and Dissector, and an output.Encoder that turns
// events into records (bytes, kept in the part, and a value). A merger
// takes the shards' batches round by round, merges their records by input
// position, numbers WebSocket connections in the order they were
// recognised, and writes. A record's
// position is the packet that completed it and, to break ties between
// connections ended by the same packet (end of input, idle timeout), the
// first packet of its connection. So the records, their order and the
// connection numbers are the same for any number of shards.

// record is one encoded record in a shard batch.
type record struct {
	file, connFile int
	pkt, connPkt   uint64
	kind           dissect.Kind
	local          int               // the connection's number on its shard
	conn           *dissect.ConnInfo // for Options.OnRecord; valid while the batch is merged
	severity       dissect.Severity
	shown          bool // the encoder made a record (a finding it did not is still counted)
	start, end     int  // the record's bytes in part.out
	value          any  // the record's value (output.Encoded.Value)
}

func (r *record) before(o *record) bool {
	if r.file != o.file {
		return r.file < o.file
	}
	if r.pkt != o.pkt {
		return r.pkt < o.pkt
	}
	if r.connFile != o.connFile {
		return r.connFile < o.connFile
	}
	return r.connPkt < o.connPkt
}

type item struct {
	pos  dissect.Pos
	seg  pcap.Segment
	key  reassembly.FlowKey // computed once by the reader: it picks the shard too
	tick bool
}

// batch is one round of input for one shard.
type batch struct {
	slab  []byte // payload copies
	items []item
	final bool        // after the items: the input is over, flush
	end   dissect.Pos // position of the last packet, for final
	round uint64      // the round it belongs to (0, 1, ...)
}

func (b *batch) reset() {
	b.slab, b.items = b.slab[:0], b.items[:0]
	b.final = false
}

// part holds records a shard produced in a round. A round's records come
// in one or more parts, the last marked so: a round that produces a lot
// (decompression bombs, floods of tiny frames) is handed over in pieces of
// about partBytes, so the memory held between a shard and the merger stays
// bounded whatever a round contains (and a part holds at most
// partRecords records, whose values are not in its bytes).
type part struct {
	out    []byte
	recs   []record
	values bool // some record holds a value: clear them before reuse
	last   bool
	final  bool
	stats  reassembly.Stats // with final
	census *dissect.Census  // with final
}

const (
	partBytes     = 4 << 20
	partRecords   = 1 << 16
	partsPerShard = 1 // parts queued between a shard and the merger
)

// shard runs the pipeline on the connections that hash to it.
type shard struct {
	idx   int
	asm   *reassembly.Assembler
	d     *dissect.Dissector
	enc   output.Encoder
	track bool   // records carry their ConnInfo (Options.OnRecord)
	fill  *batch // being filled by the reader
	cur   *part  // being filled by the shard
	in    chan *batch
	free  chan *batch
	parts chan *part // to the merger
	spare chan *part // back from the merger
	ahead [3]int     // Options.Ahead
	// messages counts the messages decoded, for the progress line (stats
	// writes no message records, so the merger cannot count them).
	messages atomic.Int64
}

// Emit records one event in the current part.
func (s *shard) Emit(ev *dissect.Event) error {
	if ev.Kind == dissect.KindMessage {
		s.messages.Add(1)
	}
	p := s.cur
	start := len(p.out)
	if ev.Kind == dissect.KindMessage && len(ev.Message.Payload) > 64<<10 && len(p.out) > 0 {
		// A big record starts a part of its own: appending it to a part
		// that holds others would copy them into a larger array.
		s.send(false)
		p = s.cur
		start = 0
	}
	var value any
	shown := false
	if ev.Kind != dissect.KindRecognised {
		out, v, ok := s.enc.Encode(p.out, ev)
		if !ok {
			if ev.Kind != dissect.KindFinding {
				return nil
			}
			// A finding the format does not show still counts (Errors):
			// a record not shown.
		} else {
			p.out, value, shown = out, v, true
			p.values = p.values || v != nil
		}
	}
	r := record{file: ev.Pos.File, pkt: ev.Pos.Pkt, kind: ev.Kind, start: start, end: len(p.out), shown: shown, value: value}
	if ev.Conn != nil {
		r.connFile, r.connPkt, r.local = ev.Conn.First.File, ev.Conn.First.Pkt, ev.Conn.ID
		if s.track {
			ci := *ev.Conn // the Conn is reused once it ends
			r.conn = &ci
		}
	}
	if ev.Kind == dissect.KindFinding {
		r.severity = ev.Finding.Severity
	}
	p.recs = append(p.recs, r)
	if len(p.out) > partBytes || len(p.recs) >= partRecords {
		s.send(false)
	}
	return nil
}

// send hands the current part to the merger and starts a new one.
func (s *shard) send(last bool) {
	s.cur.last = last
	s.parts <- s.cur
	s.cur = <-s.spare
	if s.cur.values {
		clear(s.cur.recs) // the writer owns the values: do not keep them alive
		s.cur.values = false
	}
	s.cur.out, s.cur.recs = s.cur.out[:0], s.cur.recs[:0]
	s.cur.last, s.cur.final = false, false
	if cap(s.cur.out) > 4*partBytes {
		s.cur.out = nil // one huge record made it big: do not keep it
	}
}

func (s *shard) run() {
	s.cur = <-s.spare
	for b := range s.in {
		s.d.SetRound(b.round)
		// Each packet prefetches the state of those a few places ahead
		// (see Assembler.Prefetch).
		n := len(b.items)
		for i := range b.items {
			for st, ahead := range s.ahead {
				if j := i + ahead; j < n && !b.items[j].tick {
					s.asm.Prefetch(&b.items[j].key, st, &b.items[j].seg)
				}
			}
			it := &b.items[i]
			if it.tick {
				s.asm.Tick(it.pos)
				continue
			}
			s.asm.PacketKey(it.pos, &it.seg, &it.key)
		}
		if b.final {
			s.asm.Flush(b.end)
			s.cur.final = true
			s.cur.stats = s.asm.Stats()
			s.cur.census = s.d.Census()
		}
		s.free <- b // the records hold copies: the input can be reused
		s.send(true)
	}
	close(s.parts)
}

// Engine is one run of the pipeline: New starts it, ReadAll feeds it an
// input (several, one after the other, continue the numbering), Finish
// ends it.
type Engine struct {
	shards    []*shard
	dec       *pcap.Decoder
	seg       pcap.Segment
	key       reassembly.FlowKey // of seg
	counters  Counters
	badLinks  []layers.LinkType
	batchSize int // packets per round
	inRound   int
	// roundBytes is the payload bytes copied in this round: a round ends at
	// batchSize packets or maxRoundBytes, whichever comes first, so that
	// small packets make few hand-overs and large ones little memory.
	roundBytes int
	rounds     uint64 // the rounds handed over
	// maxDelay, when set, hands a round over once its first packet waited
	// this long (wall clock: it changes when output appears, never what).
	maxDelay   time.Duration
	roundStart time.Time
	tickEvery  time.Duration
	nextTick   time.Time // packets after it make the shards Tick
	last       dissect.Pos

	w         output.RecordWriter
	flushW    interface{ Flush() error } // Options.FlushWriter: the writer's Flush
	rec       output.Encoded             // handed to the writer
	stopped   atomic.Bool                // the writer failed
	werr      error
	merged    sync.WaitGroup
	ids       []idWindow // per shard: local number -> connection number
	nextID    int
	errors    int // findings of severity error written
	final     reassembly.Stats
	census    dissect.Census // what the TCP connections were, once the input is over
	keep      func(int) bool // Options.Keep
	onRecord  func(kind dissect.Kind, conn int, info *dissect.ConnInfo)
	base      *time.Time    // Options.Base
	backwards int64         // packets stamped earlier than the packet before them
	span      time.Duration // see Span: the files before this one, and the steps back
	fileFirst time.Time     // the first packet time of the current file
	// For the progress line: packets read so far.
	packetsRead atomic.Int64
}

// Options configure an Engine.
type Options struct {
	// Shards is the number of goroutines that reassemble and dissect, each
	// for the connections that hash to it (default 1). The output does not
	// depend on it.
	Shards int
	// Dissect and Reassembly configure each shard's Dissector and
	// Assembler. Caps over all connections are per shard: a caller that
	// wants a run-wide cap divides it by Shards.
	Dissect    dissect.Options
	Reassembly reassembly.Options
	// NewEncoder makes the Encoder of one shard; Writer writes what the
	// encoders made, in input order, numbering connections 1, 2, ...
	NewEncoder func() output.Encoder
	Writer     output.RecordWriter
	// Keep, when set, selects connections by number: the records of the
	// others are not written.
	Keep func(conn int) bool
	// OnRecord, when set, is called for every record written with its
	// connection's number and identity (nil for records of no
	// connection). info is borrowed: valid during the call.
	OnRecord func(kind dissect.Kind, conn int, info *dissect.ConnInfo)
	// Base, when set and zero, receives the first packet's timestamp
	// before any record is encoded (for times relative to it); a caller
	// that knows an earlier start sets it itself.
	Base *time.Time
	// FlushWriter calls the Writer's Flush, when it has one, whenever the
	// merger has written every record it was handed and would wait for
	// more: streaming output (live, standard input) reaches its reader as
	// soon as the shards are done with it, without a write per record.
	FlushWriter bool

	// Tuning; zero values give the defaults.
	//
	// Batch is how many packets the reader hands out per round: every
	// round costs each shard a wake-up (default 1,024; 1 hands each
	// packet's records to the writer at once). Depth is how many rounds a
	// shard may be ahead of the merger, or the reader ahead of a shard
	// (default 4): enough to even out rounds where one shard has much
	// more to do than another, few enough to bound memory. Ahead is how
	// many packets ahead each of the three prefetch stages looks
	// (default 24, 12, 6; see reassembly.Assembler.Prefetch).
	Batch int
	Depth int
	Ahead [3]int
}

// DefaultBatch is Options.Batch's default.
const DefaultBatch = 1024

// New starts an Engine.
func New(o Options) *Engine {
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Depth <= 0 {
		o.Depth = 4
	}
	if o.Ahead == [3]int{} {
		o.Ahead = [3]int{24, 12, 6}
	}
	// A round's batch is handed to a shard once the shard has handed back
	// the batch of Depth rounds before (each shard has Depth): so while any
	// shard decodes round n, every shard has finished round n-Depth. TLS
	// resumption across shards relies on it (dissect.Options.RoundLag).
	o.Dissect.RoundLag = uint64(o.Depth)
	e := &Engine{dec: pcap.NewDecoder(), batchSize: o.Batch, w: o.Writer, ids: make([]idWindow, max(o.Shards, 1)), keep: o.Keep, onRecord: o.OnRecord, base: o.Base}
	if f, ok := o.Writer.(interface{ Flush() error }); ok && o.FlushWriter {
		e.flushW = f
	}
	for i := range max(o.Shards, 1) {
		s := &shard{idx: i, enc: o.NewEncoder(), in: make(chan *batch, o.Depth), free: make(chan *batch, o.Depth),
			parts: make(chan *part, partsPerShard), spare: make(chan *part, partsPerShard+1), ahead: o.Ahead, track: o.OnRecord != nil}
		s.d = dissect.New(o.Dissect, s)
		s.asm = reassembly.New(s.d, o.Reassembly)
		for range o.Depth {
			s.free <- &batch{}
		}
		for range partsPerShard + 1 {
			s.spare <- &part{}
		}
		s.fill = <-s.free
		e.shards = append(e.shards, s)
		go s.run()
	}
	e.tickEvery = e.shards[0].asm.ScanInterval()
	e.merged.Add(1)
	go e.merge()
	return e
}

// ReadAll reads src as input file number file (from 0). It returns the
// source's error, or nil at its end or once the writer failed.
func (e *Engine) ReadAll(src pcap.Source, file int) error {
	var n uint64
	for !e.stopped.Load() {
		rec, err := src.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		n++
		e.packet(dissect.Pos{File: file, Pkt: n, TS: rec.TS}, rec)
		if n&1023 == 0 {
			e.packetsRead.Store(e.counters.Read)
		}
	}
	return nil
}

// packet decodes one packet and queues it for its shard.
func (e *Engine) packet(p dissect.Pos, rec pcap.Record) {
	// The capture's span counts the steps forward (see Span): each file's
	// last minus first time, plus the steps back.
	switch {
	case e.counters.Read == 0 || p.File != e.last.File:
		if e.counters.Read > 0 {
			e.span += e.last.TS.Sub(e.fileFirst)
		}
		e.fileFirst = p.TS
	case p.TS.Before(e.last.TS):
		e.backwards++
		e.span += e.last.TS.Sub(p.TS)
	}
	e.last = p
	if e.counters.Read++; e.counters.Read == 1 && e.base != nil && e.base.IsZero() {
		*e.base = p.TS // written before any batch is handed to a shard
	}
	switch e.dec.DecodeRecord(rec, &e.seg) {
	case pcap.ClassTCP:
	case pcap.ClassNotTCP:
		e.counters.NotTCP++
		return
	case pcap.ClassFragment:
		e.counters.Fragments++
		return
	default:
		e.counters.Undecodable++
		if !pcap.SupportedLinkType(rec.LinkType) && !slices.Contains(e.badLinks, rec.LinkType) {
			e.badLinks = append(e.badLinks, rec.LinkType)
		}
		return
	}
	if p.TS.After(e.nextTick) {
		e.nextTick = p.TS.Add(e.tickEvery)
		for _, s := range e.shards {
			s.fill.items = append(s.fill.items, item{pos: p, tick: true})
		}
	}
	key := &e.key
	key.Set(&e.seg)
	// The high half of the hash picks the shard (scaled to the number of
	// shards: no division), the low one places the connection in its
	// shard's table.
	s := e.shards[key.Hash()>>32*uint64(len(e.shards))>>32]
	b := s.fill
	off := len(b.slab)
	b.slab = append(b.slab, e.seg.Payload...)
	// The item is filled in place: a composite literal would be built and
	// then copied (200 bytes a packet).
	if len(b.items) < cap(b.items) {
		b.items = b.items[:len(b.items)+1]
	} else {
		b.items = append(b.items, item{})
	}
	it := &b.items[len(b.items)-1]
	it.pos, it.seg, it.key, it.tick = p, e.seg, *key, false
	it.seg.Payload = b.slab[off:len(b.slab):len(b.slab)]
	if e.inRound++; e.inRound == 1 && e.maxDelay > 0 {
		e.roundStart = time.Now()
	}
	e.roundBytes += len(e.seg.Payload)
	if e.inRound >= e.batchSize || e.roundBytes >= maxRoundBytes || (e.maxDelay > 0 && time.Since(e.roundStart) > e.maxDelay) {
		e.round()
	}
}

// Flush hands over a partly filled round (a live source is idle). It runs
// on the goroutine that calls ReadAll, or between its calls.
func (e *Engine) Flush() {
	if e.inRound > 0 {
		e.round()
	}
}

// round hands the current batches to the shards.
func (e *Engine) round() {
	e.inRound, e.roundBytes = 0, 0
	for _, s := range e.shards {
		s.fill.round = e.rounds
		s.in <- s.fill
		s.fill = <-s.free
		s.fill.reset()
	}
	e.rounds++
}

// Finish ends every connection, waits for the last records and returns the
// packet counters (see Totals for the rest of what the run counted).
func (e *Engine) Finish() Counters {
	for _, s := range e.shards {
		s.fill.final = true
		s.fill.end = e.last
	}
	e.round()
	for _, s := range e.shards {
		close(s.in)
	}
	e.merged.Wait()
	e.counters.WebSocket = e.final.ClaimedPackets
	e.counters.OtherTCP = e.final.OtherPackets
	return e.counters
}

// merge writes the shards' records round by round, in input order: a
// k-way merge over the parts of each shard's round.
func (e *Engine) merge() {
	defer e.merged.Done()
	ps := make([]*part, len(e.shards))
	next := make([]int, len(e.shards))
	// receive takes shard i's next part; with FlushWriter, output is
	// flushed before waiting for one.
	receive := func(i int) (*part, bool) {
		if e.flushW != nil {
			select {
			case p, ok := <-e.shards[i].parts:
				return p, ok
			default:
				e.flushOutput()
			}
		}
		p, ok := <-e.shards[i].parts
		return p, ok
	}
	// advance makes ps[i] hold a record to merge, or nil once shard i's
	// round is over. It reports false when the shards are done.
	advance := func(i int) bool {
		for ps[i] != nil && next[i] == len(ps[i].recs) {
			p := ps[i]
			if p.final {
				e.final.ClaimedPackets += p.stats.ClaimedPackets
				e.final.OtherPackets += p.stats.OtherPackets
				e.final.Evicted += p.stats.Evicted
				e.final.AfterEviction += p.stats.AfterEviction
				e.final.HalfOpenForgotten += p.stats.HalfOpenForgotten
				e.census.Add(p.census)
				// Connections that carried nothing had no Stream:
				// they are what the census calls other.
				e.census.Protocols[dissect.ProtoOther] += p.stats.EmptyConns
			}
			ps[i] = nil
			last := p.last
			e.shards[i].spare <- p
			if last {
				return true
			}
			p, ok := receive(i)
			if !ok {
				return false
			}
			ps[i], next[i] = p, 0
		}
		return true
	}
	for {
		for i := range e.shards {
			p, ok := receive(i)
			if !ok {
				return
			}
			ps[i], next[i] = p, 0
			advance(i)
		}
		for {
			// The shard whose next record comes first.
			best := -1
			for i, p := range ps {
				if p != nil && (best < 0 || p.recs[next[i]].before(&ps[best].recs[next[best]])) {
					best = i
				}
			}
			if best < 0 {
				break
			}
			p := ps[best]
			r := &p.recs[next[best]]
			next[best]++
			e.write(best, r, p.out[r.start:r.end])
			advance(best)
		}
	}
}

func (e *Engine) write(shard int, r *record, body []byte) {
	ids := &e.ids[shard]
	if r.kind == dissect.KindRecognised {
		e.nextID++
		ids.add(r.local, e.nextID)
		return
	}
	id := ids.get(r.local)
	if r.kind == dissect.KindConnection {
		ids.del(r.local)
	}
	if e.stopped.Load() || (e.keep != nil && !e.keep(id)) {
		return
	}
	if r.kind == dissect.KindFinding && r.severity == dissect.SeverityError {
		e.errors++
	}
	if !r.shown {
		return // counted, not shown
	}
	if e.onRecord != nil {
		e.onRecord(r.kind, id, r.conn)
	}
	e.rec = output.Encoded{Kind: r.kind, Conn: id, Bytes: body, Value: r.value}
	r.value = nil
	if err := e.w.WriteRecord(&e.rec); err != nil {
		e.werr = err
		e.stopped.Store(true)
	}
}

// flushOutput flushes the writer (FlushWriter); an error stops the
// output, as a write error does.
func (e *Engine) flushOutput() {
	if e.werr != nil {
		return
	}
	if err := e.flushW.Flush(); err != nil {
		e.werr = err
		e.stopped.Store(true)
	}
}

// idWindow maps one shard's local connection numbers, handed out in order
// from 1, to connection numbers. The numbers of connections still open sit
// in a slice from the oldest open one on: records of connections recognised
// about the same time find theirs close together (a map scattered them,
// a cache miss per record). A connection open so long that the slice would
// pass maxIDWindow moves to a map, which bounds the slice.
type idWindow struct {
	ids  []int // ids[head:] are local numbers base...; 0: ended
	head int
	base int
	old  map[int]int
}

const maxIDWindow = 1 << 20

func (w *idWindow) add(local, id int) {
	if w.head == len(w.ids) {
		w.ids, w.head, w.base = w.ids[:0], 0, local
	}
	for w.base+len(w.ids)-w.head < local {
		w.ids = append(w.ids, 0) // numbers a shard never reported
	}
	w.ids = append(w.ids, id)
	for len(w.ids)-w.head > maxIDWindow {
		if v := w.ids[w.head]; v != 0 {
			if w.old == nil {
				w.old = map[int]int{}
			}
			w.old[w.base] = v
		}
		w.pop()
	}
}

func (w *idWindow) get(local int) int {
	if i := local - w.base; i >= 0 && i < len(w.ids)-w.head {
		return w.ids[w.head+i]
	}
	return w.old[local]
}

func (w *idWindow) del(local int) {
	if i := local - w.base; i >= 0 && i < len(w.ids)-w.head {
		w.ids[w.head+i] = 0
		for w.head < len(w.ids) && w.ids[w.head] == 0 {
			w.pop()
		}
		return
	}
	delete(w.old, local)
}

// pop drops the oldest number; once more than half of the array is before
// head, the rest moves to its front.
func (w *idWindow) pop() {
	w.head++
	w.base++
	if w.head > 1024 && 2*w.head > len(w.ids) {
		n := copy(w.ids, w.ids[w.head:])
		w.ids, w.head = w.ids[:n], 0
	}
}

// MessagesDecoded returns the messages the shards decoded so far (for a
// progress line; safe to call from any goroutine).
func (e *Engine) MessagesDecoded() int64 {
	var n int64
	for _, s := range e.shards {
		n += s.messages.Load()
	}
	return n
}

// maxRoundBytes ends a round early when its packets carry this much
// payload (what 256 packets of the medium benchmark capture carry).
const maxRoundBytes = 192 << 10

// PacketsRead returns the packets read so far (for a progress line; safe
// to call from any goroutine).
func (e *Engine) PacketsRead() int64 { return e.packetsRead.Load() }

// Stream makes the engine hand over rounds of at most batch packets, and a
// round once its first packet waited maxDelay (wall clock: it changes when
// output appears, never what): for live sources.
func (e *Engine) Stream(batch int, maxDelay time.Duration) {
	e.batchSize, e.maxDelay = max(1, batch), maxDelay
}

// BadLinks returns the unsupported link types met since the last call.
func (e *Engine) BadLinks() []layers.LinkType {
	b := e.badLinks
	e.badLinks = nil
	return b
}

// Stopped reports whether the writer failed (WriteErr says why); reading
// more input is then pointless.
func (e *Engine) Stopped() bool { return e.stopped.Load() }

// WriteErr returns the writer's first error, after Finish.
func (e *Engine) WriteErr() error { return e.werr }

// Errors returns the findings of severity error written, after Finish.
func (e *Engine) Errors() int { return e.errors }

// Census returns what the TCP connections carried, after Finish.
func (e *Engine) Census() *dissect.Census { return &e.census }

// DefragStats returns the IP reassembly counters.
func (e *Engine) DefragStats() defrag.Stats { return e.dec.DefragStats() }

// TimeBackwards returns how many packets were stamped earlier than the
// packet before them in their input. wscap keeps the input's order and
// counts such a step as no time (see dissect.Summary.Duration).
func (e *Engine) TimeBackwards() int64 { return e.backwards }

// Evicted returns, after Finish, how many connections the cap on open
// connections (reassembly.Options.MaxConns) ended, and how many of their
// packets came after: counted with them, not dissected.
func (e *Engine) Evicted() (conns, packetsAfter int64) {
	return e.final.Evicted, e.final.AfterEviction
}

// HalfOpenForgotten returns, after Finish, how many connections that had
// carried no byte were forgotten to stay within the cap on them
// (reassembly.Options.MaxHalfOpen).
func (e *Engine) HalfOpenForgotten() int64 { return e.final.HalfOpenForgotten }

// Span returns the capture's span: the time from its first packet to its
// last, counting only the steps between consecutive packets of a file that
// go forward (wscap keeps the input's order when the clock goes back; see
// TimeBackwards).
func (e *Engine) Span() time.Duration {
	if e.counters.Read == 0 {
		return 0
	}
	return max(0, e.span+e.last.TS.Sub(e.fileFirst))
}

// Connections returns how many connections were numbered (1 to it).
func (e *Engine) Connections() int { return e.nextID }
