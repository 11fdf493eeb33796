package output

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wscap/wscap/dissect"
)

var benchText = []byte(strings.Repeat(`{"seq":361296,"type":"update","items":[{"ts":1700006293302,"id":81908}]}        `, 200))

// benchJSON is 64 KiB of JSON-like text whose quotes fall at irregular
// places, as in real payloads (a repeated pattern would let the branch
// predictor learn it).
var benchJSON = func() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"id", "type", "update", "price", "qty", "name", "snapshot", "ok", "items", "ts", "side", "данные", "東京"}
	var b []byte
	for len(b) < 64<<10 {
		b = append(b, `{"`...)
		for f := r.IntN(6) + 1; f > 0; f-- {
			b = append(b, words[r.IntN(len(words))]...)
			b = append(b, `":`...)
			if r.IntN(2) == 0 {
				b = strconv.AppendInt(b, r.Int64N(1<<uint(r.IntN(40)+1)), 10)
			} else {
				b = append(append(append(b, '"'), words[r.IntN(len(words))]...), '"')
			}
			if f > 1 {
				b = append(b, `,"`...)
			}
		}
		b = append(b, "}\n"...)
	}
	return b
}()

func BenchmarkAppendValidText(b *testing.B) {
	for _, c := range []struct {
		name string
		text []byte
	}{{"pattern", benchText}, {"json", benchJSON}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.text)))
			var dst []byte
			for b.Loop() {
				dst = appendValidText(dst[:0], c.text)
			}
		})
	}
}

// BenchmarkJSONLMessage encodes one 16 KB text message record.
func BenchmarkJSONLMessage(b *testing.B) {
	conn := &dissect.ConnInfo{ID: 1, Client: netip.MustParseAddrPort("10.0.0.1:5000"), Server: netip.MustParseAddrPort("10.0.0.2:80")}
	ev := &dissect.Event{Kind: dissect.KindMessage, Conn: conn, Pos: dissect.Pos{Pkt: 9, TS: time.Unix(1700000000, 0)},
		Message: &dissect.Message{Opcode: dissect.OpText, TextValid: true, Payload: benchText, Length: int64(len(benchText)), Frames: 1}}
	var enc JSONLEncoder
	var dst []byte
	b.SetBytes(int64(len(benchText)))
	b.ReportAllocs()
	for b.Loop() {
		dst = enc.AppendRecord(dst[:0], ev)
	}
}
