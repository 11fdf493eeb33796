//go:build linux

package pcap

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"
)

// fanoutMode is PACKET_FANOUT_HASH with PACKET_FANOUT_FLAG_DEFRAG: the
// kernel picks a socket by the symmetric flow hash of each packet, after
// putting IPv4 fragments back together (afpacket's FanoutHashWithDefrag is
// the flag alone; FanoutHash is 0).
const fanoutMode = afpacket.FanoutHash | afpacket.FanoutHashWithDefrag

const (
	// fanoutWindow is how long Next holds a packet back while another
	// socket of the fanout has nothing to compare it with: several times
	// the ring's block timeout, within which every socket hands over what
	// the kernel stamped.
	fanoutWindow = 5 * liveBlockTimeout
	// A reader hands its socket's packets over in batches of at most
	// fanoutBatchRecords records and fanoutBatchBytes bytes (or one
	// packet); one batch waits while Next reads the other.
	fanoutBatchRecords = 4096
	fanoutBatchBytes   = 1 << 20
	// fanoutIDTries is how many group ids the first socket tries.
	fanoutIDTries = 16
)

// fanout is the sockets of a capture joined in one PACKET_FANOUT group, a
// reader goroutine each, and the merge that Next reads through.
type fanout struct {
	socks  []*fanSocket
	ready  chan struct{} // a reader's batch went from empty to not (or it failed)
	done   chan struct{} // closed by close: the readers return
	closed atomic.Bool
	wg     sync.WaitGroup
	poll   time.Duration
	timer  *time.Timer
	now    time.Time // read's clock, read when a packet is held back
	last   int       // the socket of the record read last (for tests)
}

// fanSocket is one socket of a fanout: its reader fills pending, Next
// reads cur; they swap when cur is read to its end.
type fanSocket struct {
	tp *afpacket.TPacket

	// The reader's, set before it starts. A socket after the first saw
	// every packet from its bind until it joined the group, as the group
	// did: the packets it stamped before keepFrom are dropped. The first
	// runs the filter over those that came before it had the filter, until
	// earlyUntil.
	keepFrom   int64 // ns since the epoch
	early      *bpf.VM
	earlyUntil time.Time
	earlyIPv   bool
	// Before the filter, loopback packets came twice, as sent and as
	// received (the kernel guard drops the first): on the loopback
	// interface (index loIndex, or every packet when onlyLo) an early
	// packet equal to the one before is the second copy.
	loIndex   int
	onlyLo    bool
	earlyLast []byte
	// The kernel counts packets from countedFrom (ns since the epoch; 0
	// once a packet stamped later was read): the reader counts in adjust
	// the earlier ones it keeps and uncounts the later ones it drops.
	countedFrom int64
	adjust      atomic.Int64

	mu      sync.Mutex
	pending *fanBatch
	err     error       // the ring failed; the reader returned
	has     atomic.Bool // pending has records, or err is set
	space   chan struct{}

	// Next's.
	cur     *fanBatch
	pos     int
	swapped time.Time // when cur was taken over (monotonic)
	failed  error
}

// fanBatch is packets copied out of a ring: recs index buf.
type fanBatch struct {
	recs []fanRec
	buf  []byte
}

type fanRec struct {
	ts       int64 // ns since the epoch
	off, end int
	length   int
}

func newFanBatch(snaplen int) *fanBatch {
	return &fanBatch{recs: make([]fanRec, 0, fanoutBatchRecords), buf: make([]byte, 0, max(fanoutBatchBytes, snaplen+64))}
}

// openFanout opens Fanout sockets with socket, one after the other, and
// joins each to the group once it has its filter: a packet that arrives
// meanwhile is filtered, by the kernel or (before SetBPF, on the first
// socket) by early. The group's id is derived from the process id; the
// first socket tries the next ones where the kernel refuses one (a group
// of another kind holds it).
func (l *Live) openFanout(socket func() (*afpacket.TPacket, int64, error), early *bpf.VM, ipv bool, loIndex int, onlyLo bool) error {
	f := &fanout{ready: make(chan struct{}, 1), done: make(chan struct{}), poll: l.opts.PollTimeout, timer: time.NewTimer(time.Hour)}
	f.timer.Stop()
	fail := func(err error) error {
		for _, s := range f.socks {
			s.tp.Close()
		}
		return err
	}
	id := uint16(os.Getpid())
	for i := range l.opts.Fanout {
		tp, countedFrom, err := socket()
		if err != nil {
			return fail(err)
		}
		s := &fanSocket{tp: tp, countedFrom: countedFrom, keepFrom: math.MinInt64, pending: newFanBatch(l.opts.Snaplen), cur: newFanBatch(l.opts.Snaplen), space: make(chan struct{}, 1)}
		f.socks = append(f.socks, s)
		if i == 0 {
			if early != nil {
				s.early, s.earlyUntil, s.earlyIPv = early, time.Now().Add(time.Millisecond), ipv
				s.loIndex, s.onlyLo = loIndex, onlyLo
			}
			for try := 1; ; try++ {
				err = tp.SetFanout(fanoutMode, id)
				if err == nil || try == fanoutIDTries || !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.EADDRINUSE) {
					break
				}
				id++
			}
		} else {
			s.keepFrom = time.Now().UnixNano()
			err = tp.SetFanout(fanoutMode, id)
		}
		if err != nil {
			return fail(fmt.Errorf("%s: joining socket %d to fanout group %d: %w", l.iface, i+1, id, err))
		}
	}
	f.wg.Add(len(f.socks))
	for _, s := range f.socks {
		go f.run(s)
	}
	l.h = &liveHandle{fan: f}
	return nil
}

// run is socket s's reader: it copies every packet out of the ring into
// s.pending (the ring's slot is released by the next read), waiting while
// the batch is full: the ring then fills, and the kernel counts what it
// drops.
func (f *fanout) run(s *fanSocket) {
	defer f.wg.Done()
	for !f.closed.Load() {
		data, ci, err := s.tp.ZeroCopyReadPacketData()
		if err == afpacket.ErrTimeout {
			continue
		}
		if err != nil {
			s.mu.Lock()
			s.err = err
			s.has.Store(true)
			s.mu.Unlock()
			f.wake()
			return
		}
		ts := ci.Timestamp.UnixNano()
		uncounted := beforeCounting(&s.countedFrom, ts)
		if ts < s.keepFrom || s.early != nil && !s.keepEarly(data, ci) {
			if !uncounted {
				s.adjust.Add(-1)
			}
			continue
		}
		if uncounted {
			s.adjust.Add(1)
		}
		s.mu.Lock()
		b := s.pending
		for len(b.recs) >= fanoutBatchRecords || len(b.buf) > 0 && len(b.buf)+len(data) > cap(b.buf) {
			s.mu.Unlock()
			select {
			case <-s.space:
			case <-f.done:
				return
			}
			s.mu.Lock()
			b = s.pending
		}
		off := len(b.buf)
		b.buf = append(b.buf, data...)
		b.recs = append(b.recs, fanRec{ts: ts, off: off, end: len(b.buf), length: ci.Length})
		first := len(b.recs) == 1
		if first {
			s.has.Store(true)
		}
		s.mu.Unlock()
		if first {
			f.wake()
		}
	}
}

func (s *fanSocket) keepEarly(data []byte, ci gopacket.CaptureInfo) bool {
	if ci.Timestamp.After(s.earlyUntil) {
		s.early, s.earlyLast = nil, nil
		return true
	}
	if !runEarly(s.early, s.earlyIPv, data) {
		return false
	}
	if s.onlyLo || s.loIndex > 0 && ci.InterfaceIndex == s.loIndex {
		if bytes.Equal(data, s.earlyLast) {
			return false
		}
		s.earlyLast = append(s.earlyLast[:0], data...)
	}
	return true
}

func (f *fanout) wake() {
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// read returns the packet with the earliest stamp among the sockets'
// next ones. While a socket has none, a packet waits until it is
// fanoutWindow old, by its stamp or since Next took it over (which bounds
// the wait when the clock is set back). With nothing to read for the poll
// timeout it returns errPollTimeout. The data is valid until the next
// call.
func (f *fanout) read() ([]byte, gopacket.CaptureInfo, error) {
	var idle time.Time
	for {
		best, bestTS, missing := -1, int64(0), false
		for i, s := range f.socks {
			if s.pos == len(s.cur.recs) && !s.refill() {
				if s.failed != nil {
					return nil, gopacket.CaptureInfo{}, s.failed
				}
				missing = true
				continue
			}
			if ts := s.cur.recs[s.pos].ts; best < 0 || ts < bestTS {
				best, bestTS = i, ts
			}
		}
		var wait time.Duration
		if best >= 0 {
			if !missing {
				return f.take(best)
			}
			// The clock is read again only when the time read last does
			// not let the packet go: a burst of old packets costs one read.
			if bestTS+int64(fanoutWindow) <= f.now.UnixNano() {
				return f.take(best)
			}
			f.now = time.Now()
			wait = min(time.Duration(bestTS-f.now.UnixNano())+fanoutWindow, fanoutWindow-f.now.Sub(f.socks[best].swapped))
			if wait <= 0 {
				return f.take(best)
			}
		} else {
			if idle.IsZero() {
				idle = time.Now()
			}
			if wait = f.poll - time.Since(idle); wait <= 0 {
				return nil, gopacket.CaptureInfo{}, errPollTimeout
			}
		}
		f.timer.Reset(wait)
		if best >= 0 {
			// Held back: more packets could only end the wait early
			// by filling every socket, not worth a wake-up per batch.
			<-f.timer.C
			continue
		}
		select {
		case <-f.ready:
			f.timer.Stop()
		case <-f.timer.C:
		}
	}
}

func (f *fanout) take(i int) ([]byte, gopacket.CaptureInfo, error) {
	s := f.socks[i]
	r := &s.cur.recs[s.pos]
	s.pos++
	f.last = i
	data := s.cur.buf[r.off:r.end:r.end]
	return data, gopacket.CaptureInfo{Timestamp: time.Unix(0, r.ts), CaptureLength: len(data), Length: r.length}, nil
}

// refill swaps cur, read to its end, for the reader's batch, and reports
// whether cur has records now.
func (s *fanSocket) refill() bool {
	if !s.has.Load() {
		return false
	}
	s.mu.Lock()
	if len(s.pending.recs) > 0 {
		s.cur.recs, s.cur.buf = s.cur.recs[:0], s.cur.buf[:0]
		s.cur, s.pending, s.pos = s.pending, s.cur, 0
	}
	s.failed = s.err
	s.has.Store(false)
	s.mu.Unlock()
	select {
	case s.space <- struct{}{}:
	default:
	}
	s.swapped = time.Now()
	return len(s.cur.recs) > s.pos
}

// stats sums the sockets' counters, corrected by their readers: less the
// packets they dropped (taken in before the filter or before joining the
// group), plus those they kept from before the kernel counted.
func (f *fanout) stats() (received, dropped uint64, err error) {
	for _, s := range f.socks {
		_, v3, err := s.tp.SocketStats()
		if err != nil {
			return 0, 0, err
		}
		received += adjusted(uint64(v3.Packets()), s.adjust.Load())
		dropped += uint64(v3.Drops())
	}
	return received, dropped, nil
}

// close stops the readers (each within a poll timeout), then closes the
// sockets: a ring is unmapped only once nobody reads it.
func (f *fanout) close() {
	f.closed.Store(true)
	close(f.done)
	f.wg.Wait()
	for _, s := range f.socks {
		s.tp.Close()
	}
}
