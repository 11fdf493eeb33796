package reassembly

import (
	"slices"
	"testing"

	"github.com/google/btree"
)

// TestOOOQueueOverlapping: the segments that share a sequence number with a
// range, in order, across the wrap of the sequence numbers.
func TestOOOQueueOverlapping(t *testing.T) {
	var w uint32 = 0xfffffff0 // segments at w+0..3, w+10..13, w+20..23 (wrapped)
	var q oooQueue
	fl := btree.NewFreeListG[oooSeg](4)
	for _, s := range []uint32{w + 20, w, w + 10} {
		q.put(fl, oooSeg{seq: s, data: []byte("abcd")})
	}
	for _, tc := range []struct {
		name     string
		seq, end uint32
		want     []uint32
	}{
		{"before all", w - 10, w, nil},
		{"touching the first", w - 4, w + 1, []uint32{w}},
		{"inside the first", w + 1, w + 2, []uint32{w}},
		{"from the middle of the first", w + 2, w + 11, []uint32{w, w + 10}},
		{"in a hole", w + 4, w + 10, nil},
		{"across the wrap", w + 12, w + 21, []uint32{w + 10, w + 20}},
		{"all", w - 1, w + 30, []uint32{w, w + 10, w + 20}},
		{"after all", w + 24, w + 40, nil},
	} {
		var got []uint32
		for _, s := range q.overlapping(nil, tc.seq, tc.end) {
			got = append(got, s.seq)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %x, want %x", tc.name, got, tc.want)
		}
	}
	if s, ok := q.first(); !ok || s.seq != w || q.len() != 3 {
		t.Errorf("first %x %v, len %d", s.seq, ok, q.len())
	}
	q.popFirst()
	if s, _ := q.first(); s.seq != w+10 {
		t.Errorf("after pop, first %x", s.seq)
	}
	q.clear()
	if _, ok := q.first(); ok || q.len() != 0 {
		t.Errorf("not empty after clear")
	}
	var empty oooQueue
	if _, ok := empty.first(); ok || empty.len() != 0 || empty.overlapping(nil, 0, 10) != nil {
		t.Errorf("the zero queue is not empty")
	}
}
