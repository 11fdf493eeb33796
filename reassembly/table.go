package reassembly

import (
	"unsafe"

	"github.com/wscap/wscap/internal/prefetch"
)

// connTable finds live connections by the hash of their flowKey: open
// addressing with linear probing over slots that hold the hash next to the
// pointer, so that a probe compares hashes without touching a connection,
// and the slot of a packet to come can be prefetched (see Prefetch).
// Deletion shifts the following slots back: no tombstones.
type connTable struct {
	slots []slot
	mask  uint64
	n     int
}

type slot struct {
	h uint64
	c *conn // nil: empty
}

const tableMinSlots = 1024

func (t *connTable) get(h uint64, k *flowKey) *conn {
	if t.slots == nil {
		return nil
	}
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.c == nil {
			return nil
		}
		if s.h == h && s.c.key == *k {
			return s.c
		}
	}
}

// put adds c, whose key is not in the table, with hash h.
func (t *connTable) put(h uint64, c *conn) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	i := h & t.mask
	for t.slots[i].c != nil {
		i = (i + 1) & t.mask
	}
	t.slots[i] = slot{h, c}
	t.n++
}

func (t *connTable) grow() {
	old := t.slots
	n := max(tableMinSlots, 2*len(old))
	t.slots, t.mask, t.n = make([]slot, n), uint64(n-1), 0
	for _, s := range old {
		if s.c != nil {
			t.put(s.h, s.c)
		}
	}
}

// del removes c, stored with hash h.
func (t *connTable) del(h uint64, c *conn) {
	i := h & t.mask
	for t.slots[i].c != c {
		if t.slots[i].c == nil {
			return
		}
		i = (i + 1) & t.mask
	}
	// Move back every later slot of the run that may sit at i: one whose
	// home (hash & mask) is not cyclically in (i, j].
	for j := (i + 1) & t.mask; t.slots[j].c != nil; j = (j + 1) & t.mask {
		home := t.slots[j].h & t.mask
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = slot{}
	t.n--
}

// prefetchSlot hints the slot where the search for hash h starts.
func (t *connTable) prefetchSlot(h uint64) {
	if t.slots != nil {
		prefetch.Lines(uintptr(unsafe.Pointer(&t.slots[h&t.mask])), 1)
	}
}

// peek returns the connection with hash h if the first slots show it
// (without comparing keys: a hint only).
func (t *connTable) peek(h uint64) *conn {
	if t.slots == nil {
		return nil
	}
	for i, n := h&t.mask, 0; n < 4; i, n = (i+1)&t.mask, n+1 {
		s := &t.slots[i]
		if s.c == nil {
			return nil
		}
		if s.h == h {
			return s.c
		}
	}
	return nil
}
