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
