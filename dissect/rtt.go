package dissect

import (
	"hash/maphash"
	"slices"
	"time"
)

// RTT summarises ping→pong round-trip times of a connection in constant
// space: count, minimum, maximum, and a deterministic reservoir sample of
// at most rttSamples values for the median.
type RTT struct {
	Count    int64
	Min, Max time.Duration
	samples  *[rttSamples]time.Duration // allocated at the first round trip
	n        int
}

const (
	rttSamples = 32
	maxPings   = 8 // outstanding pings remembered per direction
)

func (r *RTT) add(d time.Duration) {
	r.Count++
	if r.Count == 1 || d < r.Min {
		r.Min = d
	}
	if d > r.Max {
		r.Max = d
	}
	if r.samples == nil {
		r.samples = new([rttSamples]time.Duration)
	}
	if r.n < rttSamples {
		r.samples[r.n] = d
		r.n++
		return
	}
	// Reservoir sampling with a fixed pseudo-random sequence, so that the
	// result does not change from run to run.
	if j := uint64(r.Count) * 0x9e3779b97f4a7c15 >> 33 % uint64(r.Count); j < rttSamples {
		r.samples[j] = d
	}
}

// Median returns the median of the sampled round trips (0 without any).
func (r *RTT) Median() time.Duration {
	if r.n == 0 {
		return 0
	}
	s := slices.Clone(r.samples[:r.n])
	slices.Sort(s)
	return s[len(s)/2]
}

// pendingPing is a ping waiting for its pong (RFC 6455 §5.5.3: the pong
// echoes the ping's payload).
type pendingPing struct {
	hash uint64
	ts   time.Time
}

var pingSeed = maphash.MakeSeed()

// ping remembers a ping sent by dir; pong matches a pong against the other
// direction's pings.
func (c *Session) ping(dir Direction, p Pos, payload []byte) {
	if c.pings == nil {
		c.pings = new([2][]pendingPing)
	}
	q := &c.pings[dir]
	if len(*q) == maxPings {
		*q = (*q)[1:]
	}
	*q = append(*q, pendingPing{hash: maphash.Bytes(pingSeed, payload), ts: p.TS})
}

func (c *Session) pong(dir Direction, p Pos, payload []byte) {
	if c.pings == nil {
		return
	}
	q := &c.pings[dir.Reverse()]
	h := maphash.Bytes(pingSeed, payload)
	for i, pp := range *q {
		if pp.hash == h {
			if d := p.TS.Sub(pp.ts); d >= 0 { // a pong stamped before its ping measures the clock, not the path
				c.sum.RTT.add(d)
			}
			*q = append((*q)[:i], (*q)[i+1:]...)
			return
		}
	}
}
