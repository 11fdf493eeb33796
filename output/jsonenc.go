package output

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/wscap/wscap/dissect"
)

// The JSON Lines records are appended by hand, field by field: encoding a
// message is on the hot path (encoding/json's reflection and escaping cost
// about as much as the rest of the pipeline). The Record types in jsonl.go
// define the schema; a test checks that both encodings give the same bytes.

// jsonSafe marks the ASCII bytes a JSON string may hold unescaped.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\' && c != 0x7f
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does
// with SetEscapeHTML(false) (invalid UTF-8 becomes U+FFFD, U+2028 and
// U+2029 are escaped), and more: what a terminal acts on or reorders is
// escaped too, so that `jq` or `cat` on the output cannot be steered by a
// payload: DEL, the C1 controls U+0080-U+009F (U+009B is CSI on some
// terminals) and the bidirectional controls (see escapedRune). The values
// are the same once parsed.
func appendString[T string | []byte](dst []byte, s T) []byte {
	return appendStringFrom(append(dst, '"'), s, 0)
}

// appendStringFrom continues appendString after the opening quote, knowing
// that s[:from] needs no escaping.
func appendStringFrom[T string | []byte](dst []byte, s T, from int) []byte {
	start := 0
	for i := from; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscapedASCII(dst, c)
			i++
			start = i
			continue
		}
		var r rune
		var size int
		switch v := any(s).(type) {
		case string:
			r, size = utf8.DecodeRuneInString(v[i:])
		case []byte:
			r, size = utf8.DecodeRune(v[i:])
		}
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if escapedRune(r) {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', hexDigits[r>>12], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// escapedRune reports whether appendString writes r, a rune outside ASCII,
// as a \u escape: U+2028 and U+2029 (as encoding/json), the C1 controls,
// and the bidirectional formatting characters (Unicode UAX #9: ALM, LRM,
// RLM, LRE to RLO, LRI to PDI), which reorder what a reader sees.
func escapedRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f, r == 0x61c, r == 0x200e, r == 0x200f, r >= 0x2028 && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// textEsc marks the bytes appendValidText must look at: those below 0x20,
// the quote, the backslash, DEL, and the lead bytes of the runes
// escapedRune escapes (0xC2: U+0080-U+009F; 0xD8: U+061C; 0xE2: U+200E to
// U+2069).
var textEsc = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'], t[0x7f], t[0xc2], t[0xd8], t[0xe2] = true, true, true, true, true, true
	return t
}()

// appendValidText appends s, which must be valid UTF-8, as a JSON string,
// testing eight bytes at a time for one that needs escaping. It writes
// exactly what appendString writes. Text payloads are often JSON, with a
// quote every few bytes at irregular places, so it writes into the spare
// capacity by index instead of appending piece by piece: a clean word is
// one 8-byte store, a word whose only specials are quotes and backslashes
// is written byte by byte from exact per-byte flags (no branch the
// predictor has to learn per escape), and the rare rest (control bytes,
// U+2028/U+2029) goes through escapeText. BenchmarkAppendValidText/json:
// 660 MB/s before this layout, 940-1000 MB/s with it.
func appendValidText(dst []byte, s []byte) []byte {
	const (
		lo = 0x0101010101010101
		hi = 0x8080808080808080
		m7 = 0x7f7f7f7f7f7f7f7f
		// room is what one step may write: 8 bytes, each escaped to at
		// most 6 ("\u001f"), plus the closing quote.
		room = 8*6 + 1
	)
	dst = slices.Grow(dst, len(s)+len(s)/4+2)
	dst = append(dst, '"')
	n := len(s)
	i := 0
	o := len(dst)
	buf := dst[:cap(dst)]
	for i < n {
		if len(buf)-o < room {
			dst = slices.Grow(buf[:o], room+(n-i)+(n-i)/4)
			buf = dst[:cap(dst)]
		}
		if i+8 <= n {
			x := binary.LittleEndian.Uint64(s[i:])
			q, b, e := x^(0x22*lo), x^(0x5c*lo), x^(0xe2*lo)
			del, c2, d8 := x^(0x7f*lo), x^(0xc2*lo), x^(0xd8*lo)
			// Rare, handled byte by byte below: control bytes, DEL and
			// the lead bytes of the runes escapedRune escapes.
			if ((x-0x20*lo)&^x|(e-lo)&^e|(del-lo)&^del|(c2-lo)&^c2|(d8-lo)&^d8)&hi == 0 {
				// Exact flags (no borrow) of the quotes and backslashes.
				qb := ^((q&m7 + m7) | q | m7) | ^((b&m7 + m7) | b | m7)
				if qb == 0 {
					binary.LittleEndian.PutUint64(buf[o:], x)
					o += 8
					i += 8
					continue
				}
				// Copy the runs between flagged bytes a word at a time
				// (the store may run past the run: room allows it, and
				// the next store overwrites), one turn per escape.
				m := (qb >> 7) * 0x0102040810204080 >> 56 // bit j: byte j is flagged
				start := uint(0)
				for m != 0 {
					p := uint(bits.TrailingZeros64(m))
					binary.LittleEndian.PutUint64(buf[o:], x>>(8*start))
					o += int(p - start)
					buf[o], buf[o+1] = '\\', byte(x>>(8*p))
					o += 2
					start = p + 1
					m &= m - 1
				}
				binary.LittleEndian.PutUint64(buf[o:], x>>(8*start))
				o += int(8 - start)
				i += 8
				continue
			}
		}
		end := min(i+8, n)
		for i < end {
			if c := s[i]; !textEsc[c] {
				buf[o] = c
				o++
				i++
				continue
			}
			o, i = escapeText(buf, o, s, i)
			end = max(end, i)
		}
	}
	buf[o] = '"'
	return buf[:o+1]
}

// escapeText writes at buf[o:] the JSON form of the text at s[i], a byte
// flagged by textEsc, and returns where writing and reading go on.
func escapeText(buf []byte, o int, s []byte, i int) (int, int) {
	switch c := s[i]; {
	case c == '"' || c == '\\':
		buf[o], buf[o+1] = '\\', c
		return o + 2, i + 1
	case c >= 0x80:
		// A lead byte: the rune is escaped or copied whole (s is valid).
		r, size := utf8.DecodeRune(s[i:])
		if escapedRune(r) {
			o += copy(buf[o:], `\u`)
			buf[o], buf[o+1], buf[o+2], buf[o+3] = hexDigits[r>>12], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf]
			return o + 4, i + size
		}
		return o + copy(buf[o:], s[i:i+size]), i + size
	default:
		return o + len(appendEscapedASCII(buf[o:o], c)), i + 1
	}
}

// appendEscapedASCII appends the JSON escape of an ASCII byte that may not
// appear raw in a string (a quote, a backslash or a control character), as
// encoding/json writes it.
func appendEscapedASCII(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

func appendKey(dst []byte, key string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

func appendStrField(dst []byte, key, v string) []byte {
	return appendString(appendKey(dst, key), v)
}

func appendOptStr(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	return appendStrField(dst, key, v)
}

func appendInt(dst []byte, key string, v int64) []byte {
	return strconv.AppendInt(appendKey(dst, key), v, 10)
}

func appendOptInt(dst []byte, key string, v int64) []byte {
	if v == 0 {
		return dst
	}
	return appendInt(dst, key, v)
}

func appendBool(dst []byte, key string, v bool) []byte {
	return strconv.AppendBool(appendKey(dst, key), v)
}

func appendOptBool(dst []byte, key string, v bool) []byte {
	if !v {
		return dst
	}
	return appendBool(dst, key, v)
}

func appendBase64(dst []byte, key string, b []byte) []byte {
	dst = append(appendKey(dst, key), '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

func appendStrings(dst []byte, key string, ss []string) []byte {
	if len(ss) == 0 {
		return dst
	}
	dst = append(appendKey(dst, key), '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

func appendExtensions(dst []byte, key string, exts []dissect.Extension) []byte {
	if len(exts) == 0 {
		return dst
	}
	dst = append(appendKey(dst, key), '[')
	for i, e := range exts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, e.String())
	}
	return append(dst, ']')
}

// appendTime appends t as TimeFormat, without time.Format's allocations.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = append(dst, '"')
	dst = appendDigits(dst, y, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, int(mo), 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, d, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, h, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, mi, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, s, 2)
	dst = append(dst, '.')
	dst = appendDigits(dst, t.Nanosecond(), 9)
	return append(dst, 'Z', '"')
}

func appendDigits(dst []byte, v, width int) []byte {
	if v < 0 || width == 4 && v > 9999 {
		return strconv.AppendInt(dst, int64(v), 10)
	}
	var buf [9]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:width]...)
}

// appendFloat appends v as encoding/json formats a float64.
func appendFloat(dst []byte, key string, v float64) []byte {
	dst = appendKey(dst, key)
	return appendJSONFloat(dst, v)
}

// appendJSONFloat formats v as encoding/json does (ES6 number formatting).
func appendJSONFloat(dst []byte, f float64) []byte {
	abs := math.Abs(f)
	fmt := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmt = 'e'
	}
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, fmt, -1, 64)
	if fmt == 'e' {
		// clean up e-09 to e-9
		if m := len(dst) - n; m >= 4 && dst[len(dst)-4] == 'e' && dst[len(dst)-3] == '-' && dst[len(dst)-2] == '0' {
			dst[len(dst)-2] = dst[len(dst)-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

func appendHex(dst []byte, key string, b []byte) []byte {
	dst = append(appendKey(dst, key), '"')
	dst = hex.AppendEncode(dst, b)
	return append(dst, '"')
}

// escapeTerminalRunes rewrites, in JSON written by encoding/json, the runes
// it leaves raw that appendString escapes (DEL, C1 and bidi controls, see
// escapedRune) as \u escapes. Such runes can only be inside strings, so
// the JSON keeps its values. b is returned when there is nothing to do.
func escapeTerminalRunes(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] != 0x7f && b[i] != 0xc2 && b[i] != 0xd8 && b[i] != 0xe2 {
		i++ // the lead bytes of what is escaped, and DEL
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		c := b[i]
		if c == 0x7f {
			out = append(out, `\u007f`...)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if escapedRune(r) {
			out = append(out, '\\', 'u', hexDigits[r>>12], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
