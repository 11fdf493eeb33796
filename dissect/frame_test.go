package dissect

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseFrameHeader(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		want FrameHeader
	}{
		{"empty text", []byte{0x81, 0x00}, FrameHeader{Fin: true, Opcode: OpText, Len: 2}},
		{"125", []byte{0x82, 125}, FrameHeader{Fin: true, Opcode: OpBinary, Length: 125, Len: 2}},
		{"126", []byte{0x82, 126, 0x00, 126}, FrameHeader{Fin: true, Opcode: OpBinary, Length: 126, Len: 4}},
		{"127", []byte{0x82, 126, 0x00, 127}, FrameHeader{Fin: true, Opcode: OpBinary, Length: 127, Len: 4}},
		{"65535", []byte{0x82, 126, 0xff, 0xff}, FrameHeader{Fin: true, Opcode: OpBinary, Length: 65535, Len: 4}},
		{"65536", []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}, FrameHeader{Fin: true, Opcode: OpBinary, Length: 65536, Len: 10}},
		{"masked", []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d}, FrameHeader{Fin: true, Opcode: OpText, Masked: true, Key: [4]byte{0x37, 0xfa, 0x21, 0x3d}, Length: 5, Len: 6}},
		{"masked 64-bit", []byte{0x02, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, FrameHeader{Opcode: OpBinary, Masked: true, Key: [4]byte{1, 2, 3, 4}, Length: 65536, Len: 14}},
		{"rsv bits", []byte{0xf9, 0x00}, FrameHeader{Fin: true, RSV: 7, Opcode: OpPing, Len: 2}},
		{"16-bit not minimal", []byte{0x81, 126, 0x00, 125}, FrameHeader{Fin: true, Opcode: OpText, Length: 125, Len: 4, NonMinimal: true}},
		{"64-bit not minimal", []byte{0x81, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, FrameHeader{Fin: true, Opcode: OpText, Length: 65535, Len: 10, NonMinimal: true}},
		{"msb", []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, FrameHeader{Fin: true, Opcode: OpBinary, Length: 1 << 63, Len: 10, MSB: true}},
		{"2^63-1", []byte{0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, FrameHeader{Fin: true, Opcode: OpBinary, Length: 1<<63 - 1, Len: 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n, err := ParseFrameHeader(append(bytes.Clone(tc.wire), "payload"...))
			if err != nil || n != tc.want.Len || got != tc.want {
				t.Fatalf("ParseFrameHeader = %+v, %d, %v; want %+v", got, n, err, tc.want)
			}
			for i := range len(tc.wire) {
				if _, n, err := ParseFrameHeader(tc.wire[:i]); !errors.Is(err, ErrShortFrame) || n != 0 {
					t.Errorf("prefix of %d bytes: n=%d err=%v, want ErrShortFrame", i, n, err)
				}
			}
			if !tc.want.NonMinimal {
				if enc := AppendFrameHeader(nil, got); !bytes.Equal(enc, tc.wire) {
					t.Errorf("AppendFrameHeader = % x, want % x", enc, tc.wire)
				}
			}
		})
	}
}

// TestHeaderRules checks the header rules that the decoder, the
// resynchroniser and the mid-stream probe share, on literal headers.
func TestHeaderRules(t *testing.T) {
	client := headerRules{maxFrame: 1 << 20, mask: maskFor(ClientToServer)}
	server := headerRules{maxFrame: 1 << 20, mask: maskFor(ServerToClient)}
	deflate := headerRules{maxFrame: 1 << 20, mask: maskFor(ServerToClient), deflate: true}
	perFrame := headerRules{maxFrame: 1 << 20, mask: maskFor(ServerToClient), deflate: true, perFrame: true}
	probe := headerRules{maxFrame: 1 << 20, mask: maskRule{any: true}, deflate: true}
	tests := []struct {
		name  string
		rules headerRules
		wire  []byte
		want  headerFault
	}{
		{"masked client text", client, []byte{0x81, 0x85, 1, 2, 3, 4}, 0},
		{"unmasked client text", client, []byte{0x81, 0x05}, faultMask},
		{"server text", server, []byte{0x81, 0x05}, 0},
		{"masked server text", server, []byte{0x81, 0x85, 1, 2, 3, 4}, faultMask},
		{"either mask in the probe", probe, []byte{0x81, 0x85, 1, 2, 3, 4}, 0},
		{"reserved opcode", server, []byte{0x83, 0x00}, faultReservedOpcode},
		{"reserved control opcode", server, []byte{0x8b, 0x00}, faultReservedOpcode},
		{"ping of 125", server, []byte{0x89, 125}, 0},
		{"ping of 126", server, []byte{0x89, 126, 0x00, 126}, faultControlLong},
		{"fragmented ping", server, []byte{0x09, 0x00}, faultControlFragmented},
		{"16-bit 125", server, []byte{0x82, 126, 0x00, 125}, faultNonMinimal},
		{"64-bit 65535", server, []byte{0x82, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, faultNonMinimal},
		{"64-bit 65536", server, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}, 0},
		{"msb", server, []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, faultLengthMSB | faultOverCap},
		{"over the cap", server, []byte{0x82, 127, 0, 0, 0, 0, 0, 0x10, 0, 1}, faultOverCap},
		{"rsv1 without deflate", server, []byte{0xc1, 0x00}, faultRSV},
		{"rsv1 with deflate", deflate, []byte{0xc1, 0x00}, 0},
		{"rsv1 with deflate, per frame", perFrame, []byte{0x42, 0x05}, 0},
		{"masked rsv1 client binary", headerRules{maxFrame: 1 << 20, mask: maskFor(ClientToServer), deflate: true}, []byte{0xc2, 0x81, 1, 2, 3, 4}, 0},
		{"binary at the cap", headerRules{maxFrame: 125, mask: maskFor(ServerToClient)}, []byte{0x82, 125}, 0},
		{"binary over the cap", headerRules{maxFrame: 124, mask: maskFor(ServerToClient)}, []byte{0x82, 125}, faultOverCap},
		{"rsv2 with deflate", deflate, []byte{0xa1, 0x00}, faultRSV},
		{"rsv1 on ping", deflate, []byte{0xc9, 0x00}, faultRSV1Control},
		{"rsv1+3 on ping", deflate, []byte{0xd9, 0x00}, faultRSV1Control | faultRSV},
		{"rsv1 on continuation", deflate, []byte{0xc0, 0x00}, faultRSV1Continuation},
		{"rsv1 on continuation, per frame", perFrame, []byte{0xc0, 0x00}, 0},
		{"rsv1 on continuation in the probe", probe, []byte{0xc0, 0x00}, faultRSV1Continuation},
		{"everything", client, []byte{0x7b, 126, 0x00, 0x05}, faultReservedOpcode | faultMask | faultNonMinimal | faultControlFragmented | faultRSV},
	}
	for _, tc := range tests {
		h, _, err := ParseFrameHeader(tc.wire)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := tc.rules.check(&h); got != tc.want {
			t.Errorf("%s: check(% x) = %#x, want %#x", tc.name, tc.wire, got, tc.want)
		}
		if got := tc.rules.faults(&h); got != tc.want {
			t.Errorf("%s: faults(% x) = %#x, want %#x (check's fast path, plain, disagrees)", tc.name, tc.wire, got, tc.want)
		}
	}
}

// TestMaskSplit checks the word-wide XOR against a byte loop, for every
// length up to 200 and every split point: the rotated key continues the
// pattern.
func TestMaskSplit(t *testing.T) {
	key := [4]byte{0xde, 0xad, 0xbe, 0xef}
	src := make([]byte, 200)
	for i := range src {
		src[i] = byte(i * 7)
	}
	for n := 0; n <= len(src); n++ {
		want := bytes.Clone(src[:n])
		for i := range want {
			want[i] ^= key[i%4]
		}
		for split := 0; split <= n; split += 1 + n/17 {
			got := bytes.Clone(src[:n])
			k := mask(maskKey(key), got[:split])
			mask(k, got[split:])
			if !bytes.Equal(got, want) {
				t.Fatalf("len %d split %d: mask differs", n, split)
			}
		}
	}
}

// TestMessages checks message assembly on literal frames.
func TestMessages(t *testing.T) {
	long := strings.Repeat("x", 70000)
	tests := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"lengths", upgraded(s2c(frames(server(OpBinary, ""), server(OpBinary, strings.Repeat("a", 125)), server(OpBinary, strings.Repeat("b", 126)),
			server(OpBinary, strings.Repeat("c", 127)), server(OpBinary, strings.Repeat("d", 65535)), server(OpBinary, strings.Repeat("e", 65536))))),
			[]string{"server binary 0", "server binary 125", "server binary 126", "server binary 127", "server binary 65535", "server binary 65536"}},
		{"fragments with interleaved control", upgraded(c2s(frames(
			wsFrame{op: OpText, masked: true, payload: []byte("Hel")}, client(OpPing, "p1"),
			wsFrame{op: OpContinuation, masked: true, payload: []byte("lo, ")}, client(OpPong, ""),
			wsFrame{fin: true, op: OpContinuation, masked: true, payload: []byte("world")}))),
			[]string{"client ping 2 p1", "client pong 0", "client text 12 Hello, world frames=3"}},
		{"frame over many segments", upgraded(s2c(frames(server(OpText, long))[:1000]), s2c(frames(server(OpText, long))[1000:])),
			[]string{"server text 70000"}},
		{"header split", upgraded(c2s(frames(client(OpText, "split"))[:1]), c2s(frames(client(OpText, "split"))[1:3]), c2s(frames(client(OpText, "split"))[3:])),
			[]string{"client text 5 split"}},
		{"close with reason", upgraded(c2s(frames(client(OpClose, closePayload(1001, "bye now"))))),
			[]string{"client close 9 close=1001 bye now"}},
		{"response and frame in one segment", []step{c2s([]byte(request())), s2c([]byte(response()), frames(server(OpPing, "zeek")))},
			[]string{"server ping 4 zeek"}},
		{"keep-alive before upgrade", append([]step{c2s([]byte("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")), s2c([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))},
			upgraded(c2s(frames(client(OpText, "after"))))...),
			[]string{"client text 5 after"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := runConn(t, Options{}, EndCaptureEnd, tc.steps...)
			var got []string
			for i, m := range rec.messages {
				s := fmt.Sprintf("%s %s %d", m.From, m.Opcode, m.Length)
				if m.CloseCode != 0 {
					s += fmt.Sprintf(" close=%d %s", m.CloseCode, m.CloseReason)
				} else if len(m.Payload) > 0 && len(m.Payload) < 20 {
					s += " " + string(rec.payloads[i])
				}
				if m.Frames > 1 {
					s += fmt.Sprintf(" frames=%d", m.Frames)
				}
				got = append(got, s)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("messages:\n%s\nwant:\n%s\nevents:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"), strings.Join(rec.lines, "\n"))
			}
		})
	}
}

// TestSplitInvariance feeds the same conversation in random chunk sizes and
// checks that the events are the same as when fed whole.
func TestSplitInvariance(t *testing.T) {
	cl := frames(wsFrame{op: OpText, masked: true, payload: []byte("frag")}, client(OpPing, "x"),
		wsFrame{fin: true, op: OpContinuation, masked: true, payload: []byte(strings.Repeat("é", 100))},
		client(OpBinary, strings.Repeat("b", 70000)), client(OpClose, closePayload(1000, "done")))
	sv := frames(server(OpText, "welcome"), server(OpBinary, strings.Repeat("z", 300)), server(OpClose, closePayload(1000, "")))
	whole := runConn(t, Options{}, EndFIN, upgraded(c2s(cl), s2c(sv))...)
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var steps []step
		for _, part := range []struct {
			dir Direction
			b   []byte
		}{{ClientToServer, []byte(request())}, {ServerToClient, []byte(response())}, {ClientToServer, cl}, {ServerToClient, sv}} {
			for b := part.b; len(b) > 0; {
				n := 1 + rng.IntN(min(len(b), 1+rng.IntN(3000)))
				steps = append(steps, step{dir: part.dir, data: b[:n]})
				b = b[n:]
			}
		}
		got := runConn(t, Options{}, EndFIN, steps...)
		if strings.Join(got.lines, "\n") != strings.Join(whole.lines, "\n") {
			t.Fatalf("seed %d: events differ:\n%s\nwant:\n%s", seed, strings.Join(got.lines, "\n"), strings.Join(whole.lines, "\n"))
		}
	}
}

// TestMidStream detects WebSocket traffic whose capture starts inside a
// long frame, and rejects HTTP responses and TLS.
func TestMidStream(t *testing.T) {
	long := frames(server(OpBinary, strings.Repeat("x", 5000)))
	next := frames(server(OpText, "after"), server(OpPing, "p"))
	cl := frames(client(OpText, "from the client"))
	steps := []step{s2c(long[1200:2600]), s2c(long[2600:4000]), s2c(long[4000:], next), c2s(cl), s2c(frames(server(OpText, "more")))}
	rec := runConn(t, Options{}, EndCaptureEnd, steps...)
	var got []string
	for i, m := range rec.messages {
		got = append(got, m.From.String()+" "+string(rec.payloads[i]))
	}
	if strings.Join(got, "|") != "server after|server p|client from the client|server more" || len(rec.hs) != 1 || rec.hs[0].Captured {
		t.Errorf("messages %q\n%s", got, strings.Join(rec.lines, "\n"))
	}
	for _, junk := range [][]byte{[]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}} {
		rec := runConn(t, Options{}, EndCaptureEnd, s2c(junk), c2s(junk), s2c(junk), c2s(junk))
		if len(rec.hs) != 0 {
			t.Errorf("%q detected as WebSocket", junk[:8])
		}
	}
}
