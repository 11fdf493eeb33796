package gen

import (
	"bytes"
	"compress/flate"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

func TestAppendFrame(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	tests := []struct {
		name string
		f    Frame
		want string // hex of the header (payload follows)
	}{
		{"empty", Frame{Fin: true, Opcode: OpText}, "8100"},
		{"hello masked (RFC 6455 §5.7)", Frame{Fin: true, Opcode: OpText, Masked: true, Key: key, Payload: []byte("Hello")}, "818537fa213d7f9f4d5158"},
		{"125", Frame{Fin: true, Opcode: OpBinary, Payload: make([]byte, 125)}, "827d"},
		{"126", Frame{Fin: true, Opcode: OpBinary, Payload: make([]byte, 126)}, "827e007e"},
		{"127", Frame{Fin: true, Opcode: OpBinary, Payload: make([]byte, 127)}, "827e007f"},
		{"65535", Frame{Fin: true, Opcode: OpBinary, Payload: make([]byte, 65535)}, "827effff"},
		{"65536", Frame{Fin: true, Opcode: OpBinary, Payload: make([]byte, 65536)}, "827f0000000000010000"},
		{"forced 16 for 5", Frame{Fin: true, Opcode: OpText, Payload: []byte("Hello"), Length: Length16}, "817e0005"},
		{"forced 64 for 5", Frame{Fin: true, Opcode: OpText, Payload: []byte("Hello"), Length: Length64}, "817f0000000000000005"},
		{"rsv and continuation", Frame{RSV1: true, RSV2: true, RSV3: true, Opcode: OpContinuation}, "7000"},
		{"close 1000", Frame{Fin: true, Opcode: OpClose, Payload: ClosePayload(1000, "")}, "8802"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := AppendFrame(nil, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := hex.DecodeString(tt.want)
			if !bytes.HasPrefix(b, want) {
				t.Fatalf("got % x, want prefix % x", b[:min(len(b), 16)], want)
			}
			hl, _ := tt.f.HeaderLen()
			if len(b) != hl+len(tt.f.Payload) {
				t.Fatalf("length %d, header %d + payload %d", len(b), hl, len(tt.f.Payload))
			}
			f, n, err := parseFrame(b)
			if err != nil || n != len(b) || !bytes.Equal(f.payload, tt.f.Payload) && len(tt.f.Payload) > 0 {
				t.Fatalf("round trip: %v, %d of %d", err, n, len(b))
			}
			if f.minimal != (tt.f.Length == LengthMinimal) {
				t.Fatalf("minimal %v", f.minimal)
			}
		})
	}
	if _, err := AppendFrame(nil, Frame{Payload: make([]byte, 126), Length: Length7}); !errors.Is(err, ErrLengthForm) {
		t.Fatalf("126 bytes in 7-bit form: %v", err)
	}
	if _, err := AppendFrame(nil, Frame{Payload: make([]byte, 65536), Length: Length16}); !errors.Is(err, ErrLengthForm) {
		t.Fatalf("65536 bytes in 16-bit form: %v", err)
	}
}

func TestMaskChunks(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 3, 7, 8, 31, 32, 33, 100, 1000} {
		b := GenerateBinary(r, n)
		want := bytes.Clone(b)
		for i := range want {
			want[i] ^= key[i%4]
		}
		got := bytes.Clone(b)
		pos := 0
		for rest := got; len(rest) > 0; {
			k := min(len(rest), 1+r.IntN(13))
			pos = Mask(key, pos, rest[:k])
			rest = rest[k:]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("n=%d: chunked mask differs", n)
		}
	}
}

func TestAcceptKey(t *testing.T) {
	// RFC 6455 §1.3.
	if got := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatal(got)
	}
}

func TestDigest(t *testing.T) {
	var a, b Digest
	msgs := []struct {
		c  bool
		op byte
		p  string
	}{{true, 1, "hi"}, {false, 1, "hi"}, {true, 8, "\x03\xe8"}, {false, 9, ""}}
	for _, m := range msgs {
		a.Add(m.c, m.op, []byte(m.p))
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		b.Add(msgs[i].c, msgs[i].op, []byte(msgs[i].p))
	}
	if a != b || a.Count != 4 {
		t.Fatalf("order matters: %v %v", a, b)
	}
	// Direction and opcode are part of the hash.
	if MessageHash(true, 1, []byte("hi")) == MessageHash(false, 1, []byte("hi")) ||
		MessageHash(true, 1, []byte("hi")) == MessageHash(true, 2, []byte("hi")) {
		t.Fatal("direction or opcode ignored")
	}
	p, err := ParseDigest(a.String())
	if err != nil || p.Sum != a.Sum {
		t.Fatalf("parse: %v %v", p, err)
	}
}

func TestGenerateText(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 300 {
		b := GenerateText(r, n)
		if len(b) != n || !validUTF8(b) {
			t.Fatalf("n=%d: len %d utf8 %v", n, len(b), validUTF8(b))
		}
		if n >= 64 && !json.Valid(b) {
			t.Fatalf("n=%d: not JSON: %s", n, b)
		}
	}
	if b := GenerateText(r, 70000); len(b) != 70000 || !json.Valid(b) {
		t.Fatal("70000")
	}
}

func validUTF8(b []byte) bool { return strings.ToValidUTF8(string(b), "\uFFFD") == string(b) }

// TestCompressor checks every compression path with the test's inflater,
// which enforces the negotiated window, including incompressible messages
// after history (the NewWriterDict pitfall).
func TestCompressor(t *testing.T) {
	tests := []struct {
		name    string
		d       Deflate
		dir     Direction
		persist bool
		level   int
	}{
		{"takeover", Deflate{}, FromServer, false, flate.BestSpeed},
		{"takeover default level", Deflate{}, FromClient, false, flate.DefaultCompression},
		{"takeover persistent", Deflate{}, FromServer, true, flate.BestSpeed},
		{"no takeover", Deflate{ServerNoContextTakeover: true}, FromServer, false, flate.BestSpeed},
		{"client no takeover", Deflate{ClientNoContextTakeover: true}, FromClient, false, flate.BestSpeed},
		{"takeover 9 bits", Deflate{ServerMaxWindowBits: 9}, FromServer, false, flate.BestCompression},
		{"takeover 12 bits", Deflate{ClientMaxWindowBits: 12}, FromClient, false, flate.BestSpeed},
		{"no takeover 10 bits", Deflate{ServerNoContextTakeover: true, ServerMaxWindowBits: 10}, FromServer, false, flate.BestSpeed},
		{"8 bits", Deflate{ServerMaxWindowBits: 8}, FromServer, true, flate.DefaultCompression},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(5, 6))
			c := newCompressor(writerPool{}, tt.d, tt.dir, tt.level, tt.persist)
			takeover, bits := tt.d.params(tt.dir)
			var hist []byte
			for i := range 60 {
				var msg []byte
				switch n := []int{0, 10, 100, 300, 700, 1500, 5000, 20000, 40000}[r.IntN(9)]; i % 3 {
				case 0:
					msg = GenerateText(r, n)
				case 1:
					msg = GenerateBinary(r, n)
				default:
					// Repeat earlier bytes so back-references reach far.
					msg = bytes.Repeat(hist[max(0, len(hist)-n):], 1)
				}
				z := bytes.Clone(c.compress(msg))
				in := append(z, 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff)
				var dict []byte
				if takeover {
					dict = hist[max(0, len(hist)-32768):]
				}
				got, err := inflateWindow(in, bytes.Clone(dict), 1<<bits)
				if err != nil {
					t.Fatalf("message %d (%d bytes): %v", i, len(msg), err)
				}
				if !bytes.Equal(got, msg) {
					t.Fatalf("message %d: inflated %d bytes, want %d", i, len(got), len(msg))
				}
				if takeover {
					hist = append(hist, msg...)
				}
			}
			c.release()
		})
	}
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		name   string
		p      ScenarioParams
		format Format
		link   Link
	}{
		{"demo", ScenarioParams{}, FormatPcap, LinkEthernet},
		{"demo", ScenarioParams{}, FormatPcapNG, LinkRaw},
		{"demo", ScenarioParams{}, FormatPcapNano, LinkSLL},
		{"lengths", ScenarioParams{}, FormatPcapNano, LinkEthernet},
		{"medium", ScenarioParams{Conns: 40, Messages: 12}, FormatPcap, LinkEthernet},
		{"many", ScenarioParams{Conns: 300, Messages: 4}, FormatPcapNG, LinkEthernet},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.format.String()+"/"+tt.link.String(), func(t *testing.T) {
			mk := func(seed uint64) ([]byte, *Manifest) {
				c, err := NewScenario(tt.name, Options{Seed: seed, Format: tt.format, Link: tt.link, RecordMessages: true}, tt.p)
				if err != nil {
					t.Fatal(err)
				}
				return write(t, c)
			}
			data, m := mk(7)
			_, lt := readCapture(t, data)
			if lt != tt.link.layerType() {
				t.Fatalf("link type %v", lt)
			}
			verify(t, data, m, checkOpts{})
			again, m2 := mk(7)
			if !bytes.Equal(data, again) {
				t.Fatal("same seed, different file")
			}
			j1, _ := json.Marshal(m)
			j2, _ := json.Marshal(m2)
			if !bytes.Equal(j1, j2) {
				t.Fatal("same seed, different manifest")
			}
			if other, _ := mk(8); bytes.Equal(data, other) {
				t.Fatal("different seed, same file")
			}
		})
	}
}

func TestScenarioShapes(t *testing.T) {
	c, _ := NewScenario("lengths", Options{RecordMessages: true}, ScenarioParams{})
	data, m := write(t, c)
	dc := verify(t, data, m, checkOpts{})[m.Conns[0].Client]
	var sizes [2][]int
	for _, msg := range dc.msgs {
		if msg.op != OpClose {
			sizes[msg.dir] = append(sizes[msg.dir], len(msg.payload))
		}
	}
	for d := range 2 {
		if len(sizes[d]) != len(LengthsSizes()) {
			t.Fatalf("%v: sizes %v", Direction(d), sizes[d])
		}
		for i, n := range LengthsSizes() {
			if sizes[d][i] != n {
				t.Fatalf("%v: sizes %v", Direction(d), sizes[d])
			}
		}
	}

	c, _ = NewScenario("demo", Options{}, ScenarioParams{})
	data, m = write(t, c)
	decoded := verify(t, data, m, checkOpts{})
	var v6, compressed, fragmented, interleaved, takeoverOff int
	for _, cm := range m.Conns {
		if netip.MustParseAddrPort(cm.Client).Addr().Is6() {
			v6++
		}
		dc := decoded[cm.Client]
		for i, msg := range dc.msgs {
			if msg.compressed {
				compressed++
			}
			if len(msg.frames) > 1 {
				fragmented++
				if i > 0 && dc.msgs[i-1].op == OpPing && dc.msgs[i-1].dir == msg.dir {
					interleaved++
				}
			}
		}
		if dc.deflate.on && !dc.deflate.takeover[FromServer] {
			takeoverOff++
		}
	}
	if v6 != 1 || compressed < 10 || fragmented < 3 || interleaved < 1 || takeoverOff != 1 {
		t.Fatalf("demo: v6 %d compressed %d fragmented %d interleaved %d no-takeover %d",
			v6, compressed, fragmented, interleaved, takeoverOff)
	}
	if m.Totals.Client.Close != 4 || m.Totals.Server.Close != 4 {
		t.Fatalf("closes %+v", m.Totals)
	}
}

func TestHandshakeOverrides(t *testing.T) {
	tests := []struct {
		name  string
		h     Handshake
		check func(t *testing.T, req, resp thttp)
	}{
		{"wrong accept", Handshake{Accept: "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}, func(t *testing.T, req, resp thttp) {
			if resp.get("Sec-WebSocket-Accept") != "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" {
				t.Fatal(resp.headers)
			}
		}},
		{"missing upgrade", Handshake{Request: []HeaderEdit{{Name: "upgrade", Del: true}}}, func(t *testing.T, req, resp thttp) {
			if _, ok := req.headers["upgrade"]; ok {
				t.Fatal(req.headers)
			}
		}},
		{"426", Handshake{Status: 426}, func(t *testing.T, req, resp thttp) {
			if resp.line != "HTTP/1.1 426 Upgrade Required" || resp.get("Sec-WebSocket-Version") != "13" || resp.get("Sec-WebSocket-Accept") != "" {
				t.Fatal(resp)
			}
		}},
		{"fixed key and duplicate header", Handshake{Key: "dGhlIHNhbXBsZSBub25jZQ==",
			Response: []HeaderEdit{{Name: "Upgrade", Value: "h2c", Add: true}}}, func(t *testing.T, req, resp thttp) {
			if resp.get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" || len(resp.headers["upgrade"]) != 2 {
				t.Fatal(resp)
			}
		}},
		{"offers", Handshake{Origin: "http://o", UserAgent: "ua", Protocols: []string{"a", "b"}, Protocol: "b",
			Offer: "x-foo, permessage-deflate", Extensions: "x-foo"}, func(t *testing.T, req, resp thttp) {
			if req.get("Origin") != "http://o" || req.get("User-Agent") != "ua" || req.get("Sec-WebSocket-Protocol") != "a, b" ||
				req.get("Sec-WebSocket-Extensions") != "x-foo, permessage-deflate" || resp.get("Sec-WebSocket-Extensions") != "x-foo" {
				t.Fatal(req, resp)
			}
		}},
		{"raw response", Handshake{RawResponse: []byte("HTTP/1.0 200 OK\r\n\r\n")}, func(t *testing.T, req, resp thttp) {
			if resp.line != "HTTP/1.0 200 OK" {
				t.Fatal(resp)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Options{})
			conn := c.Conn(ConnOptions{})
			conn.Handshake(tt.h)
			conn.Teardown()
			data, m := write(t, c)
			pkts, _ := readCapture(t, data)
			tc := reassemble(t, pkts, m, true)[m.Conns[0].Client]
			req, err := parseHTTP(tc.stream[FromClient])
			if err != nil {
				t.Fatal(err)
			}
			resp, err := parseHTTP(tc.stream[FromServer])
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, req, resp)
		})
	}
}

// TestFrameOptions covers masking overrides, forced length forms, raw
// frames and bytes, held writes and explicit segment sizes.
func TestFrameOptions(t *testing.T) {
	c := New(Options{Seed: 3, RecordMessages: true})
	conn := c.Conn(ConnOptions{Start: time.Date(2024, 1, 1, 0, 0, 1, 0, time.UTC)})
	conn.Handshake(Handshake{ResponseWithFirstFrame: true})
	conn.Send(FromServer, Message{Opcode: OpText, Payload: []byte("first"), Mask: MaskOn})
	conn.Send(FromClient, Message{Opcode: OpText, Payload: []byte("Hello"), Mask: MaskOff, Length: Length64})
	conn.Send(FromClient, Message{Opcode: OpBinary, Size: 300, Fragments: 4, Length: Length16,
		Controls: []Control{{After: -1, Opcode: OpPing}, {After: 1, Opcode: OpPong, Payload: []byte("x")}, {After: 9, Opcode: OpPing, Payload: []byte("end")}}})
	conn.RawFrame(FromServer, Frame{Fin: true, RSV2: true, Opcode: 0x3, Payload: []byte("reserved")})
	conn.Raw(FromServer, []byte{0x81, 0x05, 'a', 'b'}) // truncated frame: garbage at the end
	conn.Hold(FromClient)
	conn.Text(FromClient, "one")
	conn.Text(FromClient, "two")
	conn.Push(FromClient, 3, 5)
	conn.Reset(FromClient)
	data, m := write(t, c)
	pkts, _ := readCapture(t, data)
	tc := reassemble(t, pkts, m, true)[m.Conns[0].Client]
	if !tc.rst {
		t.Fatal("no RST")
	}
	dc := decodeConn(t, tc)
	if string(dc.rest[FromServer]) != "\x81\x05ab" {
		t.Fatalf("rest %q", dc.rest[FromServer])
	}
	var ops []string
	for _, msg := range dc.msgs {
		ops = append(ops, msg.dir.String()[:1]+":"+msg.op.String())
	}
	// Client messages, then server messages, each in order.
	want := "c:text c:ping c:pong c:binary c:ping c:text c:text s:text s:opcode(0x3)"
	if strings.Join(ops, " ") != want {
		t.Fatalf("messages\n got %s\nwant %s", strings.Join(ops, " "), want)
	}
	if f := dc.msgs[7].frames[0]; !f.masked {
		t.Fatal("server frame not masked")
	}
	if f := dc.msgs[0].frames[0]; f.masked || f.form != 64 {
		t.Fatalf("client frame masked %v form %d", f.masked, f.form)
	}
	if f := dc.msgs[3].frames; len(f) != 4 || f[0].form != 16 || f[3].op != OpContinuation || !f[3].fin || f[2].fin {
		t.Fatalf("fragments %+v", f)
	}
	if m.Conns[0].RawFrames != 1 || m.Conns[0].RawBytes != 4 || m.Totals.Client.Messages() != 7 || m.Totals.Server.Messages() != 1 {
		t.Fatalf("manifest %+v", m.Conns[0])
	}
	// The 101 shares a segment with the first frame; the held texts go out
	// as segments of 3, 5 and the rest bytes.
	coalesced := false
	var sizes []int
	for _, p := range pkts {
		if bytes.HasPrefix(p.payload, []byte("HTTP/1.1 101")) && !bytes.HasSuffix(p.payload, []byte("\r\n\r\n")) {
			coalesced = true
		}
		if p.src.String() == m.Conns[0].Client && len(p.payload) > 0 {
			sizes = append(sizes, len(p.payload))
		}
	}
	if !coalesced {
		t.Fatal("101 not coalesced with the first frame")
	}
	if got := sizes[len(sizes)-3:]; got[0] != 3 || got[1] != 5 || got[2] != 18-8 {
		t.Fatalf("held writes in segments %v", sizes)
	}
	// Lenient verification of the whole capture still matches the manifest.
	verifyLenient(t, data, m)
}

// verifyLenient checks digests of a capture with intentional violations:
// it tolerates raw trailing bytes by ignoring undecodable rests.
func verifyLenient(t *testing.T, data []byte, m *Manifest) {
	t.Helper()
	pkts, _ := readCapture(t, data)
	conns := reassemble(t, pkts, m, true)
	var total Digest
	for _, cm := range m.Conns {
		for _, msg := range decodeConn(t, conns[cm.Client]).msgs {
			if msg.op != 0x3 { // the raw frame is not in the manifest
				total.Add(msg.dir == FromClient, byte(msg.op), msg.payload)
			}
		}
	}
	if total.String() != m.Digest || total.Count != m.DigestCount {
		t.Fatalf("digest %v/%d, manifest %s/%d", total, total.Count, m.Digest, m.DigestCount)
	}
}

func TestTCPOptions(t *testing.T) {
	tests := []struct {
		name string
		o    ConnOptions
	}{
		{"wraparound", ConnOptions{FixISN: true, ClientISN: 0xffffff00, ServerISN: 0xfffffff0, MSS: 536}},
		{"no pure acks", ConnOptions{NoPureACKs: true, MSS: 100}},
		{"mid-stream", ConnOptions{NoTCPHandshake: true}},
		{"ipv6 explicit", ConnOptions{Client: netip.MustParseAddrPort("[2001:db8::99]:50000"), Server: netip.MustParseAddrPort("[2001:db8::1]:8080")}},
		{"no gaps", ConnOptions{Gap: -1, SegmentGap: -1, RTT: time.Nanosecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Options{Seed: 9})
			conn := c.Conn(tt.o)
			conn.Handshake(Handshake{Deflate: &Deflate{}})
			for i := range 5 {
				conn.Send(FromServer, Message{Opcode: OpText, Size: 3000 * i})
				conn.Send(FromClient, Message{Opcode: OpBinary, Size: 700 * i, Fragments: i})
			}
			conn.Close(FromClient, 1000, "")
			conn.Close(FromServer, 1000, "")
			conn.FIN(FromClient)
			conn.FIN(FromServer)
			data, m := write(t, c)
			verify(t, data, m, checkOpts{})
			pkts, _ := readCapture(t, data)
			var syn, pure int
			var wrapped bool
			for _, p := range pkts {
				if p.tcp.SYN {
					syn++
				}
				if len(p.payload) == 0 && !p.tcp.SYN && !p.tcp.FIN {
					pure++
				}
				if p.tcp.Seq < 0x1000 && tt.o.FixISN {
					wrapped = true
				}
				if tt.o.MSS > 0 && len(p.payload) > tt.o.MSS {
					t.Fatalf("segment of %d bytes, MSS %d", len(p.payload), tt.o.MSS)
				}
			}
			switch tt.name {
			case "wraparound":
				if !wrapped {
					t.Fatal("sequence numbers did not wrap")
				}
			case "no pure acks":
				if pure != 3 { // the handshake's third packet and the ACKs of the two FINs
					t.Fatalf("%d pure ACKs", pure)
				}
			case "mid-stream":
				if syn != 0 {
					t.Fatal("SYN in a mid-stream capture")
				}
			case "ipv6 explicit":
				if m.Conns[0].Server != "[2001:db8::1]:8080" {
					t.Fatal(m.Conns[0].Server)
				}
			}
		})
	}
}

func TestTransforms(t *testing.T) {
	build := func(tr Transform) ([]byte, *Manifest) {
		c := New(Options{Seed: 4})
		// A plain connection interleaved with the transformed one.
		plain := c.Conn(ConnOptions{})
		plain.Handshake(Handshake{})
		conn := c.Conn(ConnOptions{Transform: tr, NoPureACKs: true})
		conn.Handshake(Handshake{})
		for range 3 {
			plain.Send(FromServer, Message{Opcode: OpBinary, Size: 4000})
			conn.Send(FromServer, Message{Opcode: OpBinary, Size: 4000})
		}
		plain.Teardown()
		conn.Teardown()
		return write(t, c)
	}
	base, bm := build(func(_ ConnInfo, s []Segment) []Segment { return s })
	verify(t, base, bm, checkOpts{})
	basePkts, _ := readCapture(t, base)

	// Segment 5 of the transformed connection is the first data segment of
	// the first message (SYN, SYN-ACK, ACK, request, response).
	type seg struct {
		seq uint32
		n   int
	}
	serverSegs := func(pkts []tpacket, m *Manifest) []seg {
		var out []seg
		for _, p := range pkts {
			if p.dst.String() == m.Conns[1].Client && len(p.payload) > 0 {
				out = append(out, seg{p.tcp.Seq, len(p.payload)})
			}
		}
		return out
	}
	want := serverSegs(basePkts, bm)
	tests := []struct {
		name  string
		tr    Transform
		delta int // packets
		check func(got []seg) bool
	}{
		{"drop", DropSegments(5), -1, func(got []seg) bool {
			return len(got) == len(want)-1 && got[1] == want[2]
		}},
		{"duplicate", DuplicateSegments(time.Millisecond, 5), 1, func(got []seg) bool {
			n := 0
			for _, g := range got {
				if g == want[1] {
					n++
				}
			}
			return len(got) == len(want)+1 && n == 2
		}},
		{"swap", SwapSegments(5, 6), 0, func(got []seg) bool {
			return got[1] == want[2] && got[2] == want[1] && got[3] == want[3]
		}},
		{"chain", Chain(DropSegments(7), SwapSegments(5, 6)), -1, func(got []seg) bool {
			return len(got) == len(want)-1 && got[1] == want[2] && got[2] == want[1] && got[3] == want[4]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, m := build(tt.tr)
			pkts, _ := readCapture(t, data)
			if len(pkts) != len(basePkts)+tt.delta {
				t.Fatalf("%d packets, want %d", len(pkts), len(basePkts)+tt.delta)
			}
			if got := serverSegs(pkts, m); !tt.check(got) {
				t.Fatalf("server segments\n got %v\nbase %v", got, want)
			}
			conns := reassemble(t, pkts, m, false)
			if g := conns[m.Conns[0].Client].gaps; g != 0 {
				t.Fatal("plain connection disturbed")
			}
			if m.Digest != bm.Digest {
				t.Fatal("manifest changed by a transform")
			}
		})
	}
}

func TestSnaplen(t *testing.T) {
	c, _ := NewScenario("demo", Options{Snaplen: 96}, ScenarioParams{})
	data, m := write(t, c)
	pkts, _ := readCapture(t, data)
	cut := 0
	for _, p := range pkts {
		if p.capLen > 96 {
			t.Fatalf("captured %d", p.capLen)
		}
		if p.capLen < p.wireLen {
			cut++
		}
	}
	if cut == 0 || int64(len(pkts)) != m.Packets {
		t.Fatalf("cut %d of %d", cut, len(pkts))
	}
}

func TestMaxOpenAndInterleaving(t *testing.T) {
	c, _ := NewScenario("many", Options{}, ScenarioParams{Conns: 2000, Messages: 4})
	var n countWriter
	m, err := c.Write(&n)
	if err != nil {
		t.Fatal(err)
	}
	// 100µs apart and ~2.7s long: about 2000 open at once at this size.
	if m.MaxOpen < 1500 || m.Connections != 2000 {
		t.Fatalf("max open %d of %d", m.MaxOpen, m.Connections)
	}
	if _, err := c.Write(io.Discard); !errors.Is(err, ErrWritten) {
		t.Fatal("second Write")
	}
}

type countWriter int64

func (w *countWriter) Write(b []byte) (int, error) { *w += countWriter(len(b)); return len(b), nil }

func TestParse(t *testing.T) {
	for _, f := range []Format{FormatPcap, FormatPcapNano, FormatPcapNG} {
		if g, err := ParseFormat(f.String()); err != nil || g != f {
			t.Fatal(f, g, err)
		}
	}
	for _, l := range []Link{LinkEthernet, LinkRaw, LinkSLL} {
		if g, err := ParseLink(l.String()); err != nil || g != l {
			t.Fatal(l, g, err)
		}
	}
	if _, err := NewScenario("nope", Options{}, ScenarioParams{}); err == nil {
		t.Fatal("unknown scenario")
	}
	if OpPong.String() != "pong" || Opcode(3).String() != "opcode(0x3)" || (FlagSYN|FlagACK).String() != "SYN|ACK" {
		t.Fatal("names")
	}
	if LinkSLL.layerType() != layers.LinkTypeLinuxSLL {
		t.Fatal("sll")
	}
}

// TestVerifyFile verifies a capture written by cmd/wscapgen against its
// manifest, for the full-size scenarios that are too big for unit tests:
//
//	WSCAPGEN_VERIFY=/tmp/medium.pcap go test -run TestVerifyFile ./internal/gen/
func TestVerifyFile(t *testing.T) {
	path := os.Getenv("WSCAPGEN_VERIFY")
	if path == "" {
		t.Skip("WSCAPGEN_VERIFY not set")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mj, err := os.ReadFile(path + ".manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(mj, &m); err != nil {
		t.Fatal(err)
	}
	verify(t, data, &m, checkOpts{})
	t.Logf("%d packets, %d connections, %d messages verified", m.Packets, m.Connections, m.DigestCount)
}

func TestConnMask(t *testing.T) {
	c := New(Options{})
	conn := c.Conn(ConnOptions{ClientMask: MaskOff, ServerMask: MaskOn})
	conn.Handshake(Handshake{})
	conn.Text(FromClient, "c")
	conn.Send(FromClient, Message{Opcode: OpText, Payload: []byte("forced"), Mask: MaskOn})
	conn.Text(FromServer, "s")
	conn.Close(FromServer, 1000, "")
	data, m := write(t, c)
	dc := verifyLenientAll(t, data, m)
	var got []bool
	for _, msg := range dc.msgs {
		got = append(got, msg.frames[0].masked)
	}
	if want := []bool{false, true, true, true}; !slices.Equal(got, want) {
		t.Fatalf("masked %v, want %v", got, want)
	}
}

// verifyLenientAll runs verify without the masking and minimal-length rules
// on a one-connection capture and returns that connection.
func verifyLenientAll(t *testing.T, data []byte, m *Manifest) tdecoded {
	t.Helper()
	return verify(t, data, m, checkOpts{lenient: true})[m.Conns[0].Client]
}
