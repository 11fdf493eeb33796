package output

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SafeText returns s with every rune that could act on a terminal escaped:
// C0 and C1 controls (ESC among them), DEL, and Unicode format characters
// such as bidi overrides. Newline and tab are shown as \n and \t; every
// other byte shows as itself (a backslash too, so that text such as JSON
// reads as it was sent, escapes and all). At most
// max display runes are produced (0: no limit); a cut is marked with "…".
func SafeText(s string, max int) string {
	if plainText(s, max) {
		return s
	}
	return string(appendSafeText(nil, s, max))
}

// plainText reports whether SafeText(s, max) is s.
func plainText(s string, max int) bool {
	if max > 0 && len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// appendSafeText appends SafeText(s, max) to b.
func appendSafeText(b []byte, s string, max int) []byte {
	if plainText(s, max) {
		return append(b, s...)
	}
	n := 0
	for i := 0; i < len(s); {
		if c := s[i]; c >= 0x20 && c < 0x7f { // printable ASCII, backslash included: itself
			if max > 0 && n+1 > max-1 && i+1 < len(s) {
				return append(b, "…"...)
			}
			b = append(b, c)
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size == 1:
			piece = `\x` + hex.EncodeToString([]byte{s[i]})
		case r == '\n':
			piece = `\n`
		case r == '\t':
			piece = `\t`
		case r == '\r':
			piece = `\r`
		case r < 0x20 || r == 0x7f:
			piece = `\x` + hex.EncodeToString([]byte{byte(r)})
		case r >= 0x80 && r < 0xa0, unicode.Is(unicode.Cf, r), unicode.Is(unicode.Co, r), r == 0x2028, r == 0x2029:
			piece = `\u{` + strings.ToUpper(hexRune(r)) + `}`
		default:
			piece = s[i : i+size]
		}
		w := utf8.RuneCountInString(piece)
		if max > 0 && n+w > max-1 && i+size < len(s) {
			return append(b, "…"...)
		}
		b = append(b, piece...)
		n += w
		i += size
	}
	return b
}

func hexRune(r rune) string {
	const digits = "0123456789abcdef"
	if r == 0 {
		return "0"
	}
	var buf [8]byte
	i := len(buf)
	for r > 0 {
		i--
		buf[i] = digits[r&0xf]
		r >>= 4
	}
	return string(buf[i:])
}

// HexPreview returns up to max characters of b as hex digits.
func HexPreview(b []byte, max int) string {
	n := len(b)
	cut := false
	if max > 0 && 2*n > max {
		n = (max - 1) / 2
		cut = true
	}
	s := hex.EncodeToString(b[:n])
	if cut {
		s += "…"
	}
	return s
}

// CountsText lists counts by name, most first: "TLS 1.3 ×60, TLS 1.2 ×4";
// "none" for none.
func CountsText(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	names := slices.Collect(maps.Keys(m))
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	var out []string
	for _, n := range names {
		out = append(out, fmt.Sprintf("%s ×%d", n, m[n]))
	}
	return strings.Join(out, ", ")
}
