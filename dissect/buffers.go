package dissect

import "math/bits"

// bufPool recycles the buffers that hold messages while they are being
// assembled, so that a connection costs memory only while one of its
// messages is in flight, and finished messages do not make garbage.
type bufPool struct {
	free [poolClasses][][]byte
	held int // bytes in free lists
}

// Size classes go up in quarter steps (512, 640, 768, 896, 1024, 1280,
// ...): a buffer wastes at most a fifth of its size, where powers of two
// would waste up to half. With thousands of messages in flight at once that
// is most of the memory.
const (
	poolMinShift = 9      // the smallest class: 512 bytes
	poolClasses  = 11 * 4 // up to 1 MiB
	poolMaxHeld  = 16 << 20
)

func poolClass(n int) int {
	if n <= 1<<poolMinShift {
		return 0
	}
	k := bits.Len(uint(n-1)) - 1 // 2^k < n <= 2^(k+1)
	q := (n - 1<<k + 1<<(k-2) - 1) >> (k - 2)
	return (k-poolMinShift)*4 + q
}

// classSize is the capacity of the buffers of class c.
func classSize(c int) int {
	k, q := c/4+poolMinShift, c%4
	if q == 0 {
		return 1 << k
	}
	return 1<<k + q<<(k-2)
}

// get returns an empty buffer with room for at least n bytes.
func (p *bufPool) get(n int) []byte {
	c := poolClass(n)
	if c >= poolClasses {
		return make([]byte, 0, n)
	}
	if l := p.free[c]; len(l) > 0 {
		b := l[len(l)-1]
		p.free[c] = l[:len(l)-1]
		p.held -= cap(b)
		return b[:0]
	}
	return make([]byte, 0, classSize(c))
}

// put gives a buffer back. Buffers not made by get are dropped.
func (p *bufPool) put(b []byte) {
	c := poolClass(cap(b))
	if b == nil || c >= poolClasses || cap(b) != classSize(c) || p.held+cap(b) > poolMaxHeld {
		return
	}
	p.free[c] = append(p.free[c], b)
	p.held += cap(b)
}

// grow appends b to buf, taking a larger pooled buffer when needed. hint is
// how many more bytes are expected after b.
func (p *bufPool) grow(buf, b []byte, hint int) []byte {
	if len(buf)+len(b) <= cap(buf) {
		return append(buf, b...)
	}
	nb := p.get(max(len(buf)+len(b)+hint, 2*cap(buf)))
	nb = append(append(nb, buf...), b...)
	p.put(buf)
	return nb
}
