package gen

// A small generic binary min-heap over a slice; container/heap's interface
// calls cost more than the generation of a small packet.

func heapPush[T any](h *[]T, x T, less func(a, b T) bool) {
	*h = append(*h, x)
	up(*h, len(*h)-1, less)
}

func heapPop[T any](h *[]T, less func(a, b T) bool) T {
	s := *h
	x := s[0]
	n := len(s) - 1
	s[0] = s[n]
	var zero T
	s[n] = zero
	*h = s[:n]
	if n > 0 {
		down(*h, 0, less)
	}
	return x
}

// heapFix restores the heap after h[i] changed.
func heapFix[T any](h []T, i int, less func(a, b T) bool) {
	if !down(h, i, less) {
		up(h, i, less)
	}
}

func up[T any](h []T, j int, less func(a, b T) bool) {
	for j > 0 {
		i := (j - 1) / 2
		if !less(h[j], h[i]) {
			break
		}
		h[i], h[j] = h[j], h[i]
		j = i
	}
}

func down[T any](h []T, i0 int, less func(a, b T) bool) bool {
	i, n := i0, len(h)
	for {
		j := 2*i + 1
		if j >= n {
			break
		}
		if r := j + 1; r < n && less(h[r], h[j]) {
			j = r
		}
		if !less(h[j], h[i]) {
			break
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
	return i > i0
}

func openLess(a, b *connState) bool {
	if a.now != b.now {
		return a.now < b.now
	}
	return a.id < b.id
}

func pktLess(a, b *packet) bool {
	if a.t != b.t {
		return a.t < b.t
	}
	return a.seq < b.seq
}
