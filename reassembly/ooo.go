package reassembly

import "github.com/google/btree"

// oooSeg is a buffered out-of-order segment: data, then missing bytes the
// capture cut off. Buffered segments never overlap.
type oooSeg struct {
	seq     uint32
	data    []byte
	missing int
}

func (s *oooSeg) end() uint32 { return s.seq + uint32(len(s.data)+s.missing) }

// segCost is what one buffered segment costs beyond its bytes (the tree's
// item and its share of a node, the data's allocation), counted against
// the buffer caps: a flood of one-byte segments must not hold 50 times the
// cap in bookkeeping.
const segCost = 64

// cost is what s counts against the caps.
func (s *oooSeg) cost() int { return len(s.data) + segCost }

// segLess orders buffered segments by sequence number. All of them lie
// within 2^31 after the direction's next sequence number, where serial
// arithmetic is a total order.
func segLess(x, y oooSeg) bool { return seqAfter(y.seq, x.seq) }

// oooQueue holds the out-of-order segments of one direction in sequence
// order: a B-tree, so that finding, inserting and removing a segment costs
// O(log n) however the segments arrive (a sorted slice made a reversed or
// shuffled flood of small segments quadratic). The tree is made on first
// use; most directions never buffer anything.
type oooQueue struct {
	t *btree.BTreeG[oooSeg]
}

// treeDegree keeps nodes small: a direction buffers a handful of
// segments far more often than thousands.
const treeDegree = 8

func (q *oooQueue) len() int {
	if q.t == nil {
		return 0
	}
	return q.t.Len()
}

// first returns the segment with the lowest sequence number; ok is false
// when the queue is empty.
func (q *oooQueue) first() (s oooSeg, ok bool) {
	if q.t == nil {
		return s, false
	}
	return q.t.Min()
}

func (q *oooQueue) popFirst() {
	q.t.DeleteMin()
}

func (q *oooQueue) put(fl *btree.FreeListG[oooSeg], s oooSeg) {
	if q.t == nil {
		q.t = btree.NewWithFreeListG(treeDegree, segLess, fl)
	}
	q.t.ReplaceOrInsert(s)
}

// overlapping appends to dst, in order, the segments that share a sequence
// number with [seq, end).
func (q *oooQueue) overlapping(dst []oooSeg, seq, end uint32) []oooSeg {
	if q.t == nil {
		return dst
	}
	// The segment that starts at or before seq may reach past it.
	q.t.DescendLessOrEqual(oooSeg{seq: seq}, func(s oooSeg) bool {
		if seqAfter(s.end(), seq) {
			dst = append(dst, s)
		}
		return false
	})
	q.t.AscendGreaterOrEqual(oooSeg{seq: seq + 1}, func(s oooSeg) bool {
		if !seqAfter(end, s.seq) {
			return false
		}
		dst = append(dst, s)
		return true
	})
	return dst
}

// clear empties the queue, handing its nodes to the free list.
func (q *oooQueue) clear() {
	if q.t != nil {
		q.t.Clear(true)
	}
}
