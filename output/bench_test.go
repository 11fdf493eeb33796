package output

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wscap/wscap/dissect"
)

var benchText = []byte(strings.Repeat(`{"seq":361296,"type":"update","items":[{"ts":1700006293302,"id":81908}]}        `, 200))

func BenchmarkAppendValidText(b *testing.B) {
	b.SetBytes(int64(len(benchText)))
	var dst []byte
	for b.Loop() {
		dst = appendValidText(dst[:0], benchText)
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
