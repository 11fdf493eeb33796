package dissect

import "unicode/utf8"

// utf8Stream checks that the bytes written to it, in pieces, make valid
// UTF-8 together: what utf8.Valid says of their concatenation. A rune cut
// between two pieces waits in pend for the rest.
type utf8Stream struct {
	pend [utf8.UTFMax]byte
	n    int
	bad  bool
}

func (u *utf8Stream) write(b []byte) {
	for u.n > 0 && len(b) > 0 && !u.bad {
		u.pend[u.n] = b[0]
		u.n++
		b = b[1:]
		if utf8.FullRune(u.pend[:u.n]) {
			u.bad = !utf8.Valid(u.pend[:u.n])
			u.n = 0
		}
	}
	if u.bad || len(b) == 0 {
		return
	}
	cut := len(trimPartialRune(b))
	if !utf8.Valid(b[:cut]) {
		u.bad = true
		return
	}
	u.n = copy(u.pend[:], b[cut:])
}

// valid reports whether everything written is valid UTF-8. cut says that
// the text was cut short (truncated or incomplete): a rune it ends in the
// middle of is then not held against it, as trimPartialRune does.
func (u *utf8Stream) valid(cut bool) bool {
	return !u.bad && (u.n == 0 || cut)
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b.
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return b
		}
		if c >= 0xC0 { // a leading byte
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}
