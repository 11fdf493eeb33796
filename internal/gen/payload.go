package gen

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
)

// generate returns n bytes of plausible payload: JSON-like UTF-8 for text,
// binary records or noise otherwise.
func generate(r *rand.Rand, op Opcode, n int) []byte {
	if op == OpText {
		return GenerateText(r, n)
	}
	return GenerateBinary(r, n)
}

var words = [...]string{
	"alpha", "bravo", "charlie", "delta", "echo", "update", "snapshot", "order",
	"price", "quantity", "user", "session", "market", "ticker", "status", "ok",
	"pending", "filled", "cancelled", "café", "naïve", "Zürich", "東京", "данные",
	"🙂", "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing",
	"elit", "sed", "do", "eiusmod", "tempor", "incididunt", "labore", "magna",
}

var keys = [...]string{"id", "name", "price", "qty", "side", "ts", "tags", "note", "ok", "seq"}

// GenerateText returns exactly n bytes of valid UTF-8 that look like a JSON
// object ({"seq":…,"type":…,"items":[{…},…]} padded with spaces); below
// 64 bytes it is a run of words instead.
func GenerateText(r *rand.Rand, n int) []byte {
	b := make([]byte, 0, n+64)
	if n >= 64 {
		b = append(b, `{"seq":`...)
		b = strconv.AppendInt(b, int64(r.IntN(1_000_000)), 10)
		b = append(b, `,"type":"`...)
		b = append(b, words[5+r.IntN(10)]...)
		b = append(b, `","items":[`...)
		var item []byte
		first := true
		for {
			item = appendItem(item[:0], r, first)
			if len(b)+len(item)+2 > n {
				break
			}
			b = append(b, item...)
			first = false
		}
		for len(b) < n-2 {
			b = append(b, ' ')
		}
		return append(b, "]}"...)
	}
	for len(b) < n {
		w := words[r.IntN(len(words))]
		if len(b)+len(w)+1 > n {
			for len(b) < n {
				b = append(b, byte('a'+r.IntN(26)))
			}
			break
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, w...)
	}
	return b
}

func appendItem(b []byte, r *rand.Rand, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '{')
	nk := 2 + r.IntN(4)
	for i := range nk {
		if i > 0 {
			b = append(b, ',')
		}
		k := keys[r.IntN(len(keys))]
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, `":`...)
		switch k {
		case "price":
			b = strconv.AppendFloat(b, float64(r.IntN(1_000_000))/100, 'f', 2, 64)
		case "id", "qty", "seq":
			b = strconv.AppendInt(b, int64(r.IntN(100_000)), 10)
		case "ts":
			b = strconv.AppendInt(b, 1_700_000_000_000+int64(r.IntN(1_000_000_000)), 10)
		case "ok":
			b = strconv.AppendBool(b, r.IntN(2) == 0)
		case "tags":
			b = append(b, `["`...)
			b = append(b, words[r.IntN(len(words))]...)
			b = append(b, `","`...)
			b = append(b, words[r.IntN(len(words))]...)
			b = append(b, `"]`...)
		default:
			b = append(b, '"')
			for j := range 1 + r.IntN(4) {
				if j > 0 {
					b = append(b, ' ')
				}
				b = append(b, words[r.IntN(len(words))]...)
			}
			b = append(b, '"')
		}
	}
	return append(b, '}')
}

// GenerateBinary returns n bytes: half the time uniform noise
// (incompressible), otherwise 16-byte records (sequence number, small
// integer, slowly varying float64) that compress moderately.
func GenerateBinary(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	if r.IntN(2) == 0 {
		i := 0
		for ; i+8 <= n; i += 8 {
			binary.LittleEndian.PutUint64(b[i:], r.Uint64())
		}
		for v := r.Uint64(); i < n; i++ {
			b[i] = byte(v)
			v >>= 8
		}
		return b
	}
	seq := r.Uint32()
	val := r.Float64() * 1000
	var rec [16]byte
	for i := 0; i < n; i += 16 {
		binary.LittleEndian.PutUint32(rec[0:], seq)
		binary.LittleEndian.PutUint32(rec[4:], uint32(r.IntN(256)))
		binary.LittleEndian.PutUint64(rec[8:], math.Float64bits(math.Round(val*100)/100))
		copy(b[i:], rec[:])
		seq++
		val += r.Float64() - 0.5
	}
	return b
}
