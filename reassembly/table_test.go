package reassembly

import (
	"math/rand/v2"
	"testing"
)

// TestConnTable: random puts and deletes, with hashes that collide in the
// low bits and in full, find what a map finds.
func TestConnTable(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var tab connTable
	ref := map[*conn]uint64{}
	var live []*conn
	for step := range 200000 {
		if len(live) > 0 && (r.IntN(2) == 0 || len(live) > 3000) {
			i := r.IntN(len(live))
			c := live[i]
			tab.del(ref[c], c)
			delete(ref, c)
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
		} else {
			c := &conn{}
			c.key.loPort = uint16(step)
			c.key.hiPort = uint16(step >> 16)
			var h uint64
			switch r.IntN(3) {
			case 0:
				h = r.Uint64()
			case 1:
				h = uint64(r.IntN(64)) << 40 // equal low bits: long runs
			default:
				h = uint64(r.IntN(8)) // equal hashes, different keys
			}
			tab.put(h, c)
			ref[c] = h
			live = append(live, c)
		}
		if step%1000 == 0 || step > 199000 {
			if tab.n != len(ref) {
				t.Fatalf("step %d: %d in the table, want %d", step, tab.n, len(ref))
			}
			for c, h := range ref {
				if got := tab.get(h, &c.key); got != c {
					t.Fatalf("step %d: get(%x) = %p, want %p", step, h, got, c)
				}
			}
			missing := flowKey{loPort: 1, hiPort: 0xffff}
			if got := tab.get(5, &missing); got != nil {
				t.Fatalf("step %d: found a key never put", step)
			}
		}
	}
}
