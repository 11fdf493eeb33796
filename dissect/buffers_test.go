package dissect

import "testing"

func TestPoolClasses(t *testing.T) {
	for n := 1; n <= 1<<20; n++ {
		c := poolClass(n)
		if sz := classSize(c); sz < n || (n > 512 && sz > n+n/4+1) {
			t.Fatalf("n=%d class %d size %d", n, c, sz)
		}
		if c > 0 && classSize(c-1) >= n {
			t.Fatalf("n=%d fits the smaller class %d (%d)", n, c-1, classSize(c-1))
		}
	}
}
