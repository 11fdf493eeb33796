package gen

import (
	"net/netip"
	"slices"
	"time"
)

// ConnInfo identifies the connection a Transform rewrites.
type ConnInfo struct {
	ID             int
	Client, Server netip.AddrPort
	MSS            int
}

// Transform rewrites the segments of one connection before they are
// serialised: segs is every segment in generation order (which is time
// order), and the result is queued in its order, each segment at its Time
// (times before the connection's start are moved to it; equal times keep
// the result's order). It may drop, duplicate, reorder, split, retime or
// rewrite segments; the manifest still describes the intended traffic.
// Payload slices may be shared: copy before writing into them.
type Transform func(info ConnInfo, segs []Segment) []Segment

// Chain applies transforms in order.
func Chain(ts ...Transform) Transform {
	return func(info ConnInfo, segs []Segment) []Segment {
		for _, t := range ts {
			segs = t(info, segs)
		}
		return segs
	}
}

// DropSegments removes the segments at the given indexes (loss).
func DropSegments(idx ...int) Transform {
	return func(_ ConnInfo, segs []Segment) []Segment {
		out := segs[:0:0]
		for i, s := range segs {
			if !slices.Contains(idx, i) {
				out = append(out, s)
			}
		}
		return out
	}
}

// DuplicateSegments sends the segments at the given indexes twice, the
// copy delay after the original (a retransmission).
func DuplicateSegments(delay time.Duration, idx ...int) Transform {
	return func(_ ConnInfo, segs []Segment) []Segment {
		out := make([]Segment, 0, len(segs)+len(idx))
		for i, s := range segs {
			out = append(out, s)
			if slices.Contains(idx, i) {
				d := s
				d.Time = s.Time.Add(delay)
				out = append(out, d)
			}
		}
		slices.SortStableFunc(out, func(a, b Segment) int { return a.Time.Compare(b.Time) })
		return out
	}
}

// SwapSegments exchanges the positions of segments i and j in the capture
// while the timestamps stay where they were (reordering).
func SwapSegments(i, j int) Transform {
	return func(_ ConnInfo, segs []Segment) []Segment {
		if i < 0 || j < 0 || i >= len(segs) || j >= len(segs) {
			return segs
		}
		ti, tj := segs[i].Time, segs[j].Time
		segs[i], segs[j] = segs[j], segs[i]
		segs[i].Time, segs[j].Time = ti, tj
		return segs
	}
}

// stepBytes finds the bytes that step wrote in direction d: the sequence
// number of their first byte and their count (the payload of the segments
// of d whose Step is step). ok is false when the step wrote nothing there.
func stepBytes(segs []Segment, step int, d Direction) (seq uint32, n int, ok bool) {
	for _, s := range segs {
		if s.Dir != d || s.Step != step || len(s.Payload) == 0 {
			continue
		}
		if !ok {
			seq, ok = s.Seq, true
		}
		if end := s.Seq + uint32(len(s.Payload)); int32(end-seq) > int32(n) {
			n = int(end - seq)
		}
	}
	return seq, n, ok
}

// stepRange resolves [from, to) relative to the bytes of step in d; to ≤ 0
// counts from the end of those bytes (0 is their end).
func stepRange(segs []Segment, step int, d Direction, from, to int) (lo, hi uint32, ok bool) {
	seq, n, ok := stepBytes(segs, step, d)
	if !ok {
		return 0, 0, false
	}
	if to <= 0 {
		to += n
	}
	if from < 0 || to > n || from >= to {
		return 0, 0, false
	}
	return seq + uint32(from), seq + uint32(to), true
}

// DropStepBytes loses bytes [from, to) of what step (see Conn.Steps) wrote
// in direction d: the segments holding them are cut, and a segment left
// empty is dropped, so the capture holds every other byte (loss at a
// chosen offset: inside a frame header, inside a payload, at a frame
// boundary). to ≤ 0 counts from the end of the step's bytes. Offsets
// outside the step leave the segments as they are.
func DropStepBytes(step int, d Direction, from, to int) Transform {
	return func(_ ConnInfo, segs []Segment) []Segment {
		lo, hi, ok := stepRange(segs, step, d, from, to)
		if !ok {
			return segs
		}
		out := make([]Segment, 0, len(segs)+1)
		for _, s := range segs {
			end := s.Seq + uint32(len(s.Payload))
			if s.Dir != d || len(s.Payload) == 0 || !seqLess(lo, end) || !seqLess(s.Seq, hi) {
				out = append(out, s)
				continue
			}
			if seqLess(s.Seq, lo) { // the part before the loss
				h := s
				h.Payload = s.Payload[:lo-s.Seq]
				h.Flags &^= FlagFIN | FlagPSH
				out = append(out, h)
			}
			if seqLess(hi, end) { // the part after it
				t := s
				t.Payload = s.Payload[hi-s.Seq:]
				t.Seq = hi
				out = append(out, t)
			} else if s.Flags&(FlagFIN|FlagRST) != 0 {
				t := s
				t.Payload, t.Seq = nil, end
				out = append(out, t)
			}
		}
		return out
	}
}

// Retransmit sends bytes [from, to) of what step wrote in direction d again,
// delay after the segment that held byte from, as one segment; mutate, when
// not nil, changes the copy first (an overlap with different data: possible
// evasion). to ≤ 0 counts from the end of the step's bytes.
func Retransmit(step int, d Direction, from, to int, delay time.Duration, mutate func(b []byte)) Transform {
	return func(_ ConnInfo, segs []Segment) []Segment {
		lo, hi, ok := stepRange(segs, step, d, from, to)
		if !ok {
			return segs
		}
		b := make([]byte, hi-lo)
		var first *Segment
		for i := range segs {
			s := &segs[i]
			end := s.Seq + uint32(len(s.Payload))
			if s.Dir != d || len(s.Payload) == 0 || !seqLess(lo, end) || !seqLess(s.Seq, hi) {
				continue
			}
			a, z := maxSeq(lo, s.Seq), minSeq(hi, end)
			copy(b[a-lo:], s.Payload[a-s.Seq:z-s.Seq])
			if first == nil && !seqLess(lo, s.Seq) {
				first = s
			}
		}
		if first == nil {
			return segs
		}
		if mutate != nil {
			mutate(b)
		}
		r := *first
		r.Seq, r.Payload = lo, b
		r.Flags = FlagACK | FlagPSH
		r.Time = first.Time.Add(delay)
		out := append(slices.Clone(segs), r)
		slices.SortStableFunc(out, func(a, b Segment) int { return a.Time.Compare(b.Time) })
		return out
	}
}

// Reorder moves the segment at index i to just after the one at index j
// (j > i), taking that segment's time: it arrives late, out of order.
func Reorder(i, j int) Transform {
	return func(_ ConnInfo, segs []Segment) []Segment {
		if i < 0 || j <= i || j >= len(segs) {
			return segs
		}
		s := segs[i]
		s.Time = segs[j].Time
		out := slices.Clone(segs[:i])
		out = append(out, segs[i+1:j+1]...)
		out = append(out, s)
		return append(out, segs[j+1:]...)
	}
}

// StepSegment returns the index in segs of the k-th segment (from 0) that
// step wrote in direction d with a payload, or -1.
func StepSegment(segs []Segment, step int, d Direction, k int) int {
	for i, s := range segs {
		if s.Dir == d && s.Step == step && len(s.Payload) > 0 {
			if k == 0 {
				return i
			}
			k--
		}
	}
	return -1
}

func seqLess(a, b uint32) bool { return int32(a-b) < 0 }

func maxSeq(a, b uint32) uint32 {
	if seqLess(a, b) {
		return b
	}
	return a
}

func minSeq(a, b uint32) uint32 {
	if seqLess(a, b) {
		return a
	}
	return b
}
