package app

import (
	"testing"
	"time"
)

// BenchmarkDecoders measures each application decoder on a typical stream
// of its messages (bytes/s of payload, allocations per message).
func BenchmarkDecoders(b *testing.B) {
	for _, bc := range []struct {
		name, sub, path string
		msgs            []msg
	}{
		{"socket.io", "", "/socket.io/?EIO=4&transport=websocket", []msg{
			c(`42["chat",{"room":"lobby","text":"hello there, how are you today?","ts":1700000000}]`),
			s(`42["chat",{"room":"lobby","text":"fine, thanks","ts":1700000001}]`),
			c(`421["ask",{"q":1}]`), s(`431[{"ok":true}]`), s("2"), c("3"),
		}},
		{"stomp", "v12.stomp", "/ws", []msg{
			c("SEND\ndestination:/queue/orders\ncontent-type:application/json\n\n{\"id\":1,\"qty\":3}\x00"),
			s("MESSAGE\nsubscription:0\nmessage-id:7\ndestination:/queue/orders\n\n{\"id\":1,\"qty\":3}\x00"),
		}},
		{"mqtt", "mqtt", "/mqtt", []msg{
			cb("\x30\x1a\x00\x0asensors/t1{\"celsius\":21.5}"),
			sb("\x30\x1a\x00\x0asensors/t1{\"celsius\":21.6}"),
		}},
		{"graphql", "graphql-transport-ws", "/graphql", []msg{
			s(`{"id":"1","type":"next","payload":{"data":{"price":{"symbol":"WSCAP","bid":101.25,"ask":101.5}}}}`),
		}},
		{"jsonrpc", "", "/rpc", []msg{
			c(`{"jsonrpc":"2.0","method":"subtract","params":{"minuend":42,"subtrahend":23},"id":3}`),
			s(`{"jsonrpc":"2.0","result":19,"id":3}`),
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			conn := Choose(None, false, bc.sub, bc.path, Options{})
			if bc.name == "graphql" {
				conn.Message(true, true, []byte(`{"id":"1","type":"subscribe","payload":{"query":"subscription Prices { price }"}}`), time.Unix(0, 0))
			}
			var n int64
			for _, m := range bc.msgs {
				n += int64(len(m.b))
			}
			b.SetBytes(n)
			b.ReportAllocs()
			t0 := time.Unix(1, 0)
			for i := 0; b.Loop(); i++ {
				for _, m := range bc.msgs {
					if conn.Message(m.client, m.text, []byte(m.b), t0.Add(time.Duration(i)*time.Millisecond)) == nil && bc.name != "jsonrpc" {
						b.Fatalf("%s: not decoded: %q", bc.name, m.b)
					}
					conn.Problems()
				}
			}
		})
	}
}
