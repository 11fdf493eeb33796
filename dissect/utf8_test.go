package dissect

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// checkStream feeds b to a utf8Stream in the given pieces and compares
// with utf8.Valid on the whole, and on the whole without a rune cut at its
// end when the text counts as cut short.
func checkStream(t *testing.T, b []byte, sizes []int) {
	t.Helper()
	var u utf8Stream
	rest := b
	for _, n := range sizes {
		n = min(n, len(rest))
		u.write(rest[:n])
		rest = rest[n:]
	}
	u.write(rest)
	if got, want := u.valid(false), utf8.Valid(b); got != want {
		t.Fatalf("%q in pieces %v: valid %v, utf8.Valid %v", b, sizes, got, want)
	}
	if got, want := u.valid(true), utf8.Valid(trimPartialRune(b)); got != want {
		t.Fatalf("%q in pieces %v, cut short: valid %v, want %v", b, sizes, got, want)
	}
}

func TestUTF8Stream(t *testing.T) {
	for _, s := range []string{"", "a", "é", "東京", "😀", "a\xe2\x82", "\xe2\x82\xac", "\xe2\x28\xa1", "\xf0\x9f\x98", "\xc3", "ab\xc3\xa9cd",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\xef\xbf\xbd", "x\x80", "\xf0\x9f\x98\x80\xf0", "\xe2\x82\xac\xe2"} {
		b := []byte(s)
		for split := range len(b) + 1 {
			checkStream(t, b, []int{split})
		}
		ones := make([]int, len(b))
		for i := range ones {
			ones[i] = 1
		}
		checkStream(t, b, ones)
	}
	r := rand.New(rand.NewPCG(7, 8))
	alphabet := []string{"a", "é", "東", "😀", "\x80", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xff", "\xed\xa0\x80"}
	for range 20000 {
		var b []byte
		for range r.IntN(12) {
			b = append(b, alphabet[r.IntN(len(alphabet))]...)
		}
		var sizes []int
		for range r.IntN(5) {
			sizes = append(sizes, r.IntN(4))
		}
		checkStream(t, b, sizes)
	}
}

func FuzzUTF8Stream(f *testing.F) {
	f.Add([]byte("a\xe2\x82\xac\xf0\x9f\x98\x80"), uint8(3), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, s1, s2 uint8) {
		checkStream(t, b, []int{int(s1) % 8, int(s2) % 8, int(s1^s2) % 8})
	})
}
