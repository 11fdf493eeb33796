package output

import (
	"io"
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

// BenchmarkClickHouseMessage encodes a message as the sink's row body on a
// shard, with its payload (--sink-payload) and without.
func BenchmarkClickHouseMessage(b *testing.B) {
	conn := &dissect.ConnInfo{ID: 1, Client: netip.MustParseAddrPort("10.0.0.1:5000"), Server: netip.MustParseAddrPort("10.0.0.2:80")}
	ev := &dissect.Event{Kind: dissect.KindMessage, Conn: conn, Pos: dissect.Pos{Pkt: 9, TS: time.Unix(1700000000, 0)},
		Message: &dissect.Message{Opcode: dissect.OpText, TextValid: true, Payload: benchText, Length: int64(len(benchText)), Frames: 1}}
	for _, payload := range []bool{false, true} {
		b.Run(map[bool]string{false: "no-payload", true: "payload"}[payload], func(b *testing.B) {
			enc := &chEncoder{jsonl: JSONLEncoder{NoPayload: !payload}}
			var dst []byte
			b.SetBytes(int64(len(benchText)))
			b.ReportAllocs()
			for b.Loop() {
				dst = enc.AppendRecord(dst[:0], ev)
			}
		})
	}
}

// BenchmarkStatsRow turns one connection record into its table row, as
// the shard and then the writer of `wscap stats` do.
func BenchmarkStatsRow(b *testing.B) {
	conn := &dissect.ConnInfo{ID: 1, Client: netip.MustParseAddrPort("198.18.0.4:34382"), Server: netip.MustParseAddrPort("192.0.2.3:80")}
	hs := &dissect.Handshake{Captured: true, Status: 101, AcceptValid: true, Host: "192.0.2.3", Path: "/ws",
		Extensions: []dissect.Extension{{Name: "permessage-deflate", Params: []dissect.ExtensionParam{{Name: "server_no_context_takeover"}}}}}
	sum := &dissect.Summary{Handshake: hs, Start: dissect.Pos{Pkt: 1, TS: time.Unix(1700000000, 0)}, End: dissect.Pos{Pkt: 30, TS: time.Unix(1700000002, 818e6)},
		Client:      dissect.DirStats{Messages: 4, Bytes: 790, WireBytes: 500, Compressed: 3, Largest: 481, CloseCode: 1000, CloseSent: true},
		Server:      dissect.DirStats{Messages: 4, Bytes: 534, WireBytes: 400, Compressed: 2, Largest: 300, CloseCode: 1000, CloseSent: true},
		ClosedFirst: true}
	sum.Client.ByOpcode[dissect.OpText], sum.Client.ByOpcode[dissect.OpClose] = 3, 1
	sum.Server.ByOpcode[dissect.OpBinary], sum.Server.ByOpcode[dissect.OpClose] = 3, 1
	ev := &dissect.Event{Kind: dissect.KindConnection, Conn: conn, Pos: sum.End, Summary: sum}
	s := NewStats(io.Discard, false)
	enc := s.Encoder()
	var body []byte
	for b.Loop() {
		out, v, _ := enc.Encode(body[:0], ev)
		body = out
		if err := s.WriteRecord(&Encoded{Kind: dissect.KindConnection, Conn: 99872, Bytes: out, Value: v}); err != nil {
			b.Fatal(err)
		}
	}
}
