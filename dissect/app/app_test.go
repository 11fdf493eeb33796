package app

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

type msg struct {
	client, text bool
	b            string
}

func c(s string) msg  { return msg{true, true, s} }
func s(s string) msg  { return msg{false, true, s} }
func cb(s string) msg { return msg{true, false, s} }
func sb(s string) msg { return msg{false, false, s} }

// run feeds a Conn the messages 10 ms apart and returns a line per
// message: its summary, or "-" when not decoded, then its problems.
func run(conn *Conn, msgs ...msg) []string {
	var out []string
	t0 := time.Unix(0, 0)
	for i, m := range msgs {
		info := conn.Message(m.client, m.text, []byte(m.b), t0.Add(time.Duration(i)*10*time.Millisecond))
		line := "-"
		if info != nil {
			line = info.Protocol.String() + ": " + info.Summary
		}
		for _, p := range conn.Problems() {
			line += " !" + p.Code + ": " + p.Detail
		}
		out = append(out, line)
	}
	return out
}

func TestDecoders(t *testing.T) {
	for _, tc := range []struct {
		name, sub, path string
		msgs            []msg
		want            []string
	}{
		{"socket.io by path", "", "/socket.io/?EIO=4&transport=websocket", []msg{
			s(`0{"sid":"abc","upgrades":[],"pingInterval":300,"pingTimeout":200}`),
			c(`40/admin,{"token":"x"}`),
			c(`42["chat","hi",1]`),
			c(`421["ask",{"q":1}]`),
			s(`431[{"ok":true}]`),
			c(`451-/admin,["upload",{"_placeholder":true,"num":0}]`),
			cb("\x00\x01\x02"),
			s("2"), c("3"),
			c("2probe"),
			c(`41/admin,`),
		}, []string{
			"socket.io: engine.io open sid abc ping 300/200 ms",
			`socket.io: CONNECT /admin {"token":"x"}`,
			`socket.io: EVENT "chat" ["hi",1]`,
			`socket.io: EVENT "ask" ack 1 [{"q":1}]`,
			`socket.io: ACK to 1 [{"ok":true}]`,
			`socket.io: BINARY_EVENT /admin "upload" +1 attachments [{"_placeholder":true,"num":0}]`,
			`socket.io: attachment 1/1 of BINARY_EVENT "upload", 3 B`,
			"socket.io: engine.io ping", "socket.io: engine.io pong", `socket.io: engine.io ping "probe"`,
			"socket.io: DISCONNECT /admin",
		}},
		{"socket.io attachments missing", "", "/socket.io/?EIO=4", []msg{c(`451-["up",{"_placeholder":true,"num":0}]`), c(`42["next"]`)}, []string{
			`socket.io: BINARY_EVENT "up" +1 attachments [{"_placeholder":true,"num":0}]`,
			`socket.io: EVENT "next" !app-socketio-attachments-missing: the BINARY_EVENT "up" announced 1 attachments; 0 came before the next packet`,
		}},
		{"stomp", "v12.stomp", "/ws", []msg{
			c("CONNECT\naccept-version:1.2\nhost:broker\nheart-beat:500,500\n\n\x00"),
			s("CONNECTED\nversion:1.2\nheart-beat:500,500\n\n\x00"),
			c("SUBSCRIBE\nid:0\ndestination:/queue/a\\cb\n\n\x00SEND\ndestination:/queue/x\ncontent-length:3\n\na\x00b\x00\n"),
			s("\n"),
			s("MESSAGE\nsubscription:0\nmessage-id:7\ndestination:/queue/a:b\n\nhel"),
			s("lo\x00"),
			c("SEND\ndestination:/q\n\nno nul"),
			c("BOGUS\n\n\x00"),
		}, []string{
			"stomp: CONNECT",
			"stomp: CONNECTED",
			"stomp: SUBSCRIBE /queue/a:b; SEND /queue/x 3 B",
			"stomp: heart-beat",
			"stomp: (63 B of a frame to come)",
			"stomp: MESSAGE /queue/a:b 5 B",
			"stomp: (27 B of a frame to come)",
			"stomp: SEND /q 13 B", // a frame goes on to its NUL, whatever the messages
		}},
		{"graphql-transport-ws", "graphql-transport-ws", "/graphql", []msg{
			c(`{"type":"connection_init"}`), s(`{"type":"connection_ack"}`),
			c(`{"id":"1","type":"subscribe","payload":{"query":"subscription Prices { price }"}}`),
			s(`{"id":"1","type":"next","payload":{"data":{"price":1}}}`),
			s(`{"id":"1","type":"complete"}`),
			s(`{"id":"9","type":"next","payload":{}}`),
		}, []string{
			"graphql-transport-ws: connection_init", "graphql-transport-ws: connection_ack",
			"graphql-transport-ws: subscribe 1 Prices", "graphql-transport-ws: next 1 Prices",
			"graphql-transport-ws: complete 1 Prices after 20ms",
			`graphql-transport-ws: next 9 !app-graphql-unknown-id: a next for operation id "9", which no subscribe seen started`,
		}},
		{"graphql in flight after the client's complete", "graphql-transport-ws", "/", []msg{
			c(`{"id":"5","type":"subscribe","payload":{"query":"subscription T { t }"}}`),
			c(`{"id":"5","type":"complete"}`),
			s(`{"id":"5","type":"next","payload":{}}`),
		}, []string{"graphql-transport-ws: subscribe 5 T", "graphql-transport-ws: complete 5 T after 10ms", "graphql-transport-ws: next 5"}},
		{"json-rpc sniffed", "", "/rpc", []msg{
			c(`{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}`),
			s(`{"jsonrpc":"2.0","result":3,"id":1}`),
			c(`[{"jsonrpc":"2.0","method":"log","params":["x"]},{"jsonrpc":"2.0","method":"nope","id":"b"}]`),
			s(`{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"b"}`),
			s(`{"jsonrpc":"2.0","result":0,"id":77}`),
		}, []string{
			"json-rpc: request add id 1", "json-rpc: response add id 1 after 10ms",
			`json-rpc: batch[2] notification log; request nope id "b"`,
			`json-rpc: error nope id "b" -32601 Method not found after 10ms`,
			"json-rpc: response id 77 !app-jsonrpc-unknown-id: a JSON-RPC response to id 77, which no request seen asked for (§5)",
		}},
		{"free text is not claimed", "", "/chat", []msg{c("hello"), s(`{"type":"greeting"}`), c("CONNECT me"), cb("\x10\x00\x00"), c("ok")}, []string{"-", "-", "-", "-", "-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(Choose(None, false, tc.sub, tc.path, Options{}), tc.msgs...)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// mqttConnect is a 3.1.1 CONNECT of client "c1", then PUBLISH, split and
// packed as MQTT over WebSocket allows.
func TestMQTT(t *testing.T) {
	connect := "\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02c1"
	pub := "\x32\x0c\x00\x03a/b\x00\x05hey!!" // QoS 1, id 5
	puback := "\x40\x02\x00\x05"
	sub := "\x82\x08\x00\x01\x00\x03t/#\x01"
	for _, tc := range []struct {
		name string
		msgs []msg
		want []string
	}{
		{"one per message", []msg{cb(connect), sb("\x20\x02\x00\x00"), cb(pub), sb(puback), cb(sub), sb("\x90\x03\x00\x01\x01"), cb("\xc0\x00"), sb("\xd0\x00"), cb("\xe0\x00")}, []string{
			`mqtt: CONNECT MQTT v4 client "c1" keepalive 60s`, "mqtt: CONNACK rc 0x00", "mqtt: PUBLISH a/b q1 5 B id 5", "mqtt: PUBACK id 5",
			"mqtt: SUBSCRIBE t/# id 1", "mqtt: SUBACK id 1 rc 0x01", "mqtt: PINGREQ", "mqtt: PINGRESP", "mqtt: DISCONNECT"}},
		{"split and packed", []msg{cb(connect + pub[:4]), cb(pub[4:] + sub)}, []string{
			`mqtt: CONNECT MQTT v4 client "c1" keepalive 60s; (4 B of a packet to come)`, "mqtt: PUBLISH a/b q1 5 B id 5; SUBSCRIBE t/# id 1"}},
		{"remaining length of five bytes", []msg{cb(connect), cb("\x30\xff\xff\xff\xff\x01")}, []string{
			`mqtt: CONNECT MQTT v4 client "c1" keepalive 60s`, "mqtt:  !app-mqtt-malformed: a remaining length longer than four bytes (MQTT 5.0 §1.5.5, 3.1.1 §2.2.3); the rest of the direction is not decoded"}},
		{"too large to hold", []msg{cb(connect), cb("\x30\xff\xff\xff\x7f")}, []string{
			`mqtt: CONNECT MQTT v4 client "c1" keepalive 60s`, "mqtt:  !cap-app-buffer: an MQTT packet announces 268435455 bytes, more than the 1048576 wscap holds; the rest of the direction is not decoded"}},
		{"bad flags", []msg{cb(connect), cb("\x83\x08\x00\x01\x00\x03t/#\x01")}, []string{
			`mqtt: CONNECT MQTT v4 client "c1" keepalive 60s`, "mqtt: SUBSCRIBE t/# id 1 !app-mqtt-malformed: SUBSCRIBE with fixed-header flags 0011; they must be 0010 (MQTT 5.0 §2.1.3)"}},
		{"v5 properties", []msg{cb("\x10\x0f\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x02c1"), cb("\x30\x12\x00\x03a/b\x0a\x26\x00\x01k\x00\x01v\x23\x00\x01hi")}, []string{
			`mqtt: CONNECT MQTT v5 client "c1" keepalive 60s`, "mqtt: PUBLISH a/b q0 2 B"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(Choose(None, false, "mqtt", "/mqtt", Options{}), tc.msgs...)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestNotClaimed: free text, JSON that is none of the protocols, and
// random bytes are never taken for an application protocol.
func TestNotClaimed(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	texts := []string{"hello", `{"type":"chat","text":"hi"}`, `["a",1]`, "CONNECTED to the server", "0 items", `42 is the answer`, `{"jsonrpc":"1.0"}`, "SEND me a postcard\n", "MQTT is nice"}
	for i := 0; i < 20000; i++ {
		conn := Choose(None, false, "", "/ws", Options{})
		var b []byte
		text := i%2 == 0
		if text {
			b = []byte(texts[i%len(texts)] + strings.Repeat(" x", rng.IntN(20)))
		} else {
			b = make([]byte, rng.IntN(300))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		}
		for k := 0; k < maxSniff; k++ {
			if info := conn.Message(k%2 == 0, text, b, time.Time{}); info != nil {
				t.Fatalf("%q (text %v) taken for %s", b, text, info.Protocol)
			}
		}
		if !conn.Done() {
			t.Fatalf("still sniffing after %d messages", maxSniff)
		}
	}
}

func FuzzDecoders(f *testing.F) {
	f.Add(uint8(0), []byte(`42["chat","hi"]`), true)
	f.Add(uint8(1), []byte("SEND\ndestination:/q\ncontent-length:1\n\nx\x00"), true)
	f.Add(uint8(2), []byte("\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02c1\x32\x0c\x00\x03a/b\x00\x05hey!!"), false)
	f.Add(uint8(3), []byte(`{"id":"1","type":"subscribe","payload":{"query":"subscription A { a }"}}`), true)
	f.Add(uint8(5), []byte(`[{"jsonrpc":"2.0","method":"a","id":1}]`), true)
	f.Fuzz(func(t *testing.T, p uint8, b []byte, text bool) {
		proto := Protocol(p%uint8(numProtocols-1)) + 1
		conn := Choose(proto, false, "", "", Options{MaxBuffer: 4096})
		for i := 0; i < 3; i++ {
			conn.Message(i%2 == 0, text, b, time.Unix(int64(i), 0))
			conn.Message(i%2 == 0, !text, b[:len(b)/2], time.Unix(int64(i), 0))
		}
		// Sniffing never panics either.
		Choose(None, false, "", "", Options{}).Message(true, text, b, time.Time{})
	})
}
