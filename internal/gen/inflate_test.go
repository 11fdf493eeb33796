package gen

import (
	"errors"
	"fmt"
)

// A small independent DEFLATE decoder (RFC 1951) for tests, after zlib's
// puff.c: it checks what compress/flate's reader does not, that no
// back-reference reaches further than a given window.

var (
	errInflateShort = errors.New("inflate: input ends early")
	errInflateCode  = errors.New("inflate: bad code")
)

type bitReader struct {
	in  []byte
	pos int
	buf uint32
	cnt uint
}

func (b *bitReader) bits(n uint) (int, error) {
	for b.cnt < n {
		if b.pos >= len(b.in) {
			return 0, errInflateShort
		}
		b.buf |= uint32(b.in[b.pos]) << b.cnt
		b.pos++
		b.cnt += 8
	}
	v := int(b.buf & (1<<n - 1))
	b.buf >>= n
	b.cnt -= n
	return v, nil
}

type huffman struct {
	count  [16]int
	symbol []int
}

func newHuffman(lengths []int) *huffman {
	h := &huffman{symbol: make([]int, len(lengths))}
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	var offs [16]int
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for sym, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = sym
			offs[l]++
		}
	}
	return h
}

func (b *bitReader) decode(h *huffman) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l <= 15; l++ {
		v, err := b.bits(1)
		if err != nil {
			return 0, err
		}
		code |= v
		count := h.count[l]
		if code-count < first {
			return h.symbol[index+(code-first)], nil
		}
		index += count
		first += count
		first <<= 1
		code <<= 1
	}
	return 0, errInflateCode
}

var (
	lenBase  = [...]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = [...]uint{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	dstBase  = [...]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	dstExtra = [...]uint{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder  = [...]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// inflateWindow decodes a raw DEFLATE stream that ends with a final block,
// appending to hist (the earlier output a back-reference may reach). It
// fails when a distance exceeds maxDist or the available output.
func inflateWindow(in, hist []byte, maxDist int) (out []byte, err error) {
	b := &bitReader{in: in}
	out = hist
	base := len(hist)
	for {
		last, err := b.bits(1)
		if err != nil {
			return nil, err
		}
		typ, err := b.bits(2)
		if err != nil {
			return nil, err
		}
		switch typ {
		case 0:
			b.buf, b.cnt = 0, 0
			if b.pos+4 > len(b.in) {
				return nil, errInflateShort
			}
			n := int(b.in[b.pos]) | int(b.in[b.pos+1])<<8
			nc := int(b.in[b.pos+2]) | int(b.in[b.pos+3])<<8
			if n != ^nc&0xffff {
				return nil, fmt.Errorf("inflate: stored length %d vs %d", n, nc)
			}
			b.pos += 4
			if b.pos+n > len(b.in) {
				return nil, errInflateShort
			}
			out = append(out, b.in[b.pos:b.pos+n]...)
			b.pos += n
		case 1:
			l := make([]int, 288)
			for i := range l {
				switch {
				case i < 144:
					l[i] = 8
				case i < 256:
					l[i] = 9
				case i < 280:
					l[i] = 7
				default:
					l[i] = 8
				}
			}
			d := make([]int, 30)
			for i := range d {
				d[i] = 5
			}
			if out, err = b.codes(out, newHuffman(l), newHuffman(d), maxDist); err != nil {
				return nil, err
			}
		case 2:
			nlen, err1 := b.bits(5)
			ndist, err2 := b.bits(5)
			ncode, err3 := b.bits(4)
			if err := errors.Join(err1, err2, err3); err != nil {
				return nil, err
			}
			nlen, ndist, ncode = nlen+257, ndist+1, ncode+4
			lengths := make([]int, 19)
			for i := range ncode {
				if lengths[clOrder[i]], err = b.bits(3); err != nil {
					return nil, err
				}
			}
			lencode := newHuffman(lengths)
			all := make([]int, 0, nlen+ndist)
			for len(all) < nlen+ndist {
				sym, err := b.decode(lencode)
				if err != nil {
					return nil, err
				}
				if sym < 16 {
					all = append(all, sym)
					continue
				}
				v, rep := 0, 0
				switch sym {
				case 16:
					if len(all) == 0 {
						return nil, errInflateCode
					}
					v = all[len(all)-1]
					rep, err = b.bits(2)
					rep += 3
				case 17:
					rep, err = b.bits(3)
					rep += 3
				default:
					rep, err = b.bits(7)
					rep += 11
				}
				if err != nil {
					return nil, err
				}
				for range rep {
					all = append(all, v)
				}
			}
			if len(all) > nlen+ndist {
				return nil, errInflateCode
			}
			if out, err = b.codes(out, newHuffman(all[:nlen]), newHuffman(all[nlen:]), maxDist); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("inflate: block type 3")
		}
		if last == 1 {
			return out[base:], nil
		}
	}
}

func (b *bitReader) codes(out []byte, lencode, distcode *huffman, maxDist int) ([]byte, error) {
	for {
		sym, err := b.decode(lencode)
		if err != nil {
			return nil, err
		}
		if sym < 256 {
			out = append(out, byte(sym))
			continue
		}
		if sym == 256 {
			return out, nil
		}
		sym -= 257
		if sym >= 29 {
			return nil, errInflateCode
		}
		e, err := b.bits(lenExtra[sym])
		if err != nil {
			return nil, err
		}
		n := lenBase[sym] + e
		ds, err := b.decode(distcode)
		if err != nil {
			return nil, err
		}
		if ds >= 30 {
			return nil, errInflateCode
		}
		e, err = b.bits(dstExtra[ds])
		if err != nil {
			return nil, err
		}
		dist := dstBase[ds] + e
		if dist > len(out) {
			return nil, fmt.Errorf("inflate: distance %d beyond %d bytes of output", dist, len(out))
		}
		if dist > maxDist {
			return nil, fmt.Errorf("inflate: distance %d beyond the %d-byte window", dist, maxDist)
		}
		for range n {
			out = append(out, out[len(out)-dist])
		}
	}
}
