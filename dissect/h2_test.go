package dissect

import (
	"bytes"
	"compress/flate"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Sink records events with their connection and stream.
type h2Sink struct{ lines []string }

func (s *h2Sink) Emit(ev *Event) error {
	var line string
	switch ev.Kind {
	case KindHandshake:
		h := ev.Handshake
		line = fmt.Sprintf("handshake %s %s %s status=%d sub=%q ext=%d", h.Method, h.Host, h.Path, h.Status, h.Subprotocol, len(h.Extensions))
	case KindMessage:
		m := ev.Message
		line = fmt.Sprintf("message %s %s z=%v %q", m.From, m.Opcode, m.Compressed, m.Payload)
	case KindFinding:
		line = fmt.Sprintf("finding %s: %s", ev.Finding.Code, ev.Finding.Detail)
	case KindConnection:
		line = fmt.Sprintf("connection %s", ev.Summary.Reason)
	default:
		return nil
	}
	s.lines = append(s.lines, fmt.Sprintf("%d/%d %s", ev.Conn.ID, ev.Conn.H2Stream, line))
	return nil
}

func (s *h2Sink) has(t *testing.T, want ...string) {
	t.Helper()
	all := strings.Join(s.lines, "\n") + "\n"
	for _, w := range want {
		if !strings.Contains(all, w+"\n") {
			t.Errorf("no line %q in\n%s", w, all)
		}
	}
}

// h2Peer writes one side of an HTTP/2 connection with x/net's Framer and
// HPACK encoder, and WebSocket frames on its streams.
type h2Peer struct {
	buf    bytes.Buffer
	fr     *http2.Framer
	hb     bytes.Buffer
	enc    *hpack.Encoder
	client bool
	fw     map[uint32]*flate.Writer
	fwBuf  map[uint32]*bytes.Buffer
}

func newH2Peer(client bool) *h2Peer {
	p := &h2Peer{client: client, fw: map[uint32]*flate.Writer{}, fwBuf: map[uint32]*bytes.Buffer{}}
	if client {
		p.buf.WriteString(http2.ClientPreface)
	}
	p.fr = http2.NewFramer(&p.buf, nil)
	p.fr.AllowIllegalWrites = true
	p.enc = hpack.NewEncoder(&p.hb)
	return p
}

// take returns what was written since the last take.
func (p *h2Peer) take() []byte {
	b := bytes.Clone(p.buf.Bytes())
	p.buf.Reset()
	return b
}

func (p *h2Peer) headers(id uint32, end bool, fields ...string) {
	p.hb.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		p.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: p.hb.Bytes(), EndHeaders: true, EndStream: end})
}

// ws returns a WebSocket frame of this peer (masked for the client),
// compressed with the stream's deflate context when z.
func (p *h2Peer) ws(id uint32, op Opcode, payload string, z bool) []byte {
	data := []byte(payload)
	rsv := uint8(0)
	if z {
		if p.fw[id] == nil {
			p.fwBuf[id] = new(bytes.Buffer)
			p.fw[id], _ = flate.NewWriter(p.fwBuf[id], flate.BestSpeed)
		}
		p.fwBuf[id].Reset()
		p.fw[id].Write(data)
		p.fw[id].Flush()
		data = bytes.TrimSuffix(bytes.Clone(p.fwBuf[id].Bytes()), []byte{0, 0, 0xff, 0xff})
		rsv = 4
	}
	return wsFrame{fin: true, rsv: rsv, op: op, masked: p.client, payload: data}.bytes()
}

// h2Run feeds a Conn the flights in order: each is the bytes one peer
// sent in one packet.
type flight struct {
	client bool
	b      []byte
}

func h2Run(t *testing.T, flights []flight, opts Options) *h2Sink {
	t.Helper()
	sink := &h2Sink{}
	d := New(opts, sink)
	c := d.NewConn(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"), Pos{Pkt: 1, TS: time.Unix(1, 0)})
	c.opened = true
	pkt := uint64(1)
	for _, f := range flights {
		pkt++
		dir := ServerToClient
		if f.client {
			dir = ClientToServer
		}
		c.Data(dir, Pos{Pkt: pkt, TS: time.Unix(int64(pkt), 0)}, f.b)
	}
	c.End(Pos{Pkt: pkt + 1, TS: time.Unix(int64(pkt+1), 0)}, EndFIN)
	return sink
}

func connectFields(path string, extra ...string) []string {
	return append([]string{":method", "CONNECT", ":protocol", "websocket", ":scheme", "http", ":path", path, ":authority", "example.com", "sec-websocket-version", "13"}, extra...)
}

// TestH2TwoWebSockets: two WebSockets and an ordinary request on one
// HTTP/2 connection, DATA interleaved, a WebSocket frame split over DATA
// frames and two frames in one DATA frame, permessage-deflate on one.
func TestH2TwoWebSockets(t *testing.T) {
	cl, sv := newH2Peer(true), newH2Peer(false)
	sv.fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
	s1 := sv.take()
	cl.fr.WriteSettings()
	cl.fr.WriteSettingsAck()
	cl.headers(1, false, connectFields("/chat", "sec-websocket-protocol", "chat.v1, chat.v2")...)
	cl.headers(3, false, connectFields("/feed", "sec-websocket-extensions", "permessage-deflate")...)
	cl.headers(5, true, ":method", "GET", ":scheme", "http", ":path", "/status", ":authority", "example.com")
	c1 := cl.take()
	sv.fr.WriteSettingsAck()
	sv.headers(1, false, ":status", "200", "sec-websocket-protocol", "chat.v1")
	sv.headers(3, false, ":status", "200", "sec-websocket-extensions", "permessage-deflate")
	sv.headers(5, false, ":status", "200")
	sv.fr.WriteData(5, true, []byte("ok"))
	s2 := sv.take()
	hello := cl.ws(1, OpText, "hello on chat", false)
	cl.fr.WriteData(1, false, hello[:4])
	cl.fr.WriteData(3, false, cl.ws(3, OpText, `{"sub":"prices"}`, true))
	cl.fr.WriteData(1, false, hello[4:])
	c2 := cl.take()
	two := append(sv.ws(3, OpText, `{"price":1}`, true), sv.ws(3, OpText, `{"price":1}`, true)...)
	sv.fr.WriteData(3, false, two)
	sv.fr.WriteData(1, false, sv.ws(1, OpBinary, "\x00\x01", false))
	s3 := sv.take()
	cl.fr.WriteData(1, false, cl.ws(1, OpClose, "\x03\xe8", false))
	cl.fr.WriteData(3, true, cl.ws(3, OpClose, "\x03\xe8", false))
	c3 := cl.take()
	sv.fr.WriteData(1, true, sv.ws(1, OpClose, "\x03\xe8", false))
	sv.fr.WriteData(3, true, sv.ws(3, OpClose, "\x03\xe8", false))
	s4 := sv.take()
	cl.fr.WriteData(1, true, nil)
	c4 := cl.take()
	sink := h2Run(t, []flight{{false, s1}, {true, c1}, {false, s2}, {true, c2}, {false, s3}, {true, c3}, {false, s4}, {true, c4}}, Options{})
	sink.has(t,
		`1/1 handshake CONNECT example.com /chat status=200 sub="chat.v1" ext=0`,
		`2/3 handshake CONNECT example.com /feed status=200 sub="" ext=1`,
		`2/3 message client text z=true "{\"sub\":\"prices\"}"`,
		`1/1 message client text z=false "hello on chat"`,
		`2/3 message server text z=true "{\"price\":1}"`,
		`1/1 message server binary z=false "\x00\x01"`,
		`2/3 connection close-handshake`,
		`1/1 connection close-handshake`,
	)
	if n := strings.Count(strings.Join(sink.lines, "\n"), "2/3 message server text z=true"); n != 2 {
		t.Errorf("%d compressed server messages on stream 3, want 2:\n%s", n, strings.Join(sink.lines, "\n"))
	}
	if strings.Contains(strings.Join(sink.lines, "\n"), "finding") {
		t.Errorf("findings on a clean exchange:\n%s", strings.Join(sink.lines, "\n"))
	}
}

// TestH2Rules: the handshake and stream rules of RFC 8441 and RFC 9113.
func TestH2Rules(t *testing.T) {
	enable := func(sv *h2Peer) { sv.fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1}) }
	for _, tc := range []struct {
		name   string
		before func(sv *h2Peer) // the server's first flight
		req    []string
		resp   []string
		after  func(cl, sv *h2Peer) []flight
		want   []string
	}{
		{"not enabled", func(sv *h2Peer) { sv.fr.WriteSettings() }, connectFields("/"), []string{":status", "200"}, nil,
			[]string{"1/1 finding h2-connect-not-enabled: the client sent :protocol before the server's SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 was seen"}},
		{"missing pseudo-headers", enable, []string{":method", "CONNECT", ":protocol", "websocket", "sec-websocket-version", "13"}, []string{":status", "200"}, nil,
			[]string{"1/1 finding h2-pseudo-header: the extended CONNECT request has no :scheme pseudo-header field (RFC 8441 §4)", "1/1 finding h2-pseudo-header: the extended CONNECT request has no :path pseudo-header field (RFC 8441 §4)"}},
		{"key and accept", enable, connectFields("/", "sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="), []string{":status", "200", "sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}, nil,
			[]string{"1/1 finding h2-key-or-accept: the request has Sec-WebSocket-Key, which WebSocket over HTTP/2 does not use", "1/1 finding h2-key-or-accept: the response has Sec-WebSocket-Accept, which WebSocket over HTTP/2 does not use"}},
		{"version", enable, []string{":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/", ":authority", "a", "sec-websocket-version", "8"}, []string{":status", "200"}, nil,
			[]string{`1/1 finding handshake-version-unsupported: sec-websocket-version is "8"; it must be 13 (RFC 8441 §5)`}},
		{":status with a sign", enable, connectFields("/"), []string{":status", "+20"}, nil, // strconv would read 20
			[]string{`1/1 finding h2-pseudo-header: :status is "+20", not a three-digit code (RFC 9113 §8.3.2)`, "1/1 handshake CONNECT example.com / status=0 sub=\"\" ext=0"}},
		{"rejected", enable, connectFields("/"), []string{":status", "404"}, nil,
			[]string{"1/1 finding handshake-rejected: the server answered the extended CONNECT with 404", "1/1 connection rejected"}},
		{"subprotocol not offered", enable, connectFields("/"), []string{":status", "200", "sec-websocket-protocol", "mqtt"}, nil,
			[]string{`1/1 finding handshake-subprotocol-not-offered: the server chose subprotocol "mqtt"; the client offered ""`}},
		{"connection header", enable, connectFields("/", "connection", "upgrade"), []string{":status", "200"}, nil,
			[]string{"1/1 finding h2-header-malformed: the request has the connection-specific field connection, which HTTP/2 does not carry (RFC 9113 §8.2.2)"}},
		{"data after end stream", enable, connectFields("/"), []string{":status", "200"}, func(cl, sv *h2Peer) []flight {
			sv.fr.WriteData(1, true, sv.ws(1, OpText, "a", false))
			sv.fr.WriteData(1, false, sv.ws(1, OpText, "b", false))
			return []flight{{false, sv.take()}}
		}, []string{"1/1 message server text z=false \"a\"", "1/1 finding h2-stream-state: DATA on stream 1 after the sender ended it with END_STREAM (RFC 9113 §5.1)"}},
		{"reset mid frame", enable, connectFields("/"), []string{":status", "200"}, func(cl, sv *h2Peer) []flight {
			f := sv.ws(1, OpText, "a long message", false)
			sv.fr.WriteData(1, false, f[:5])
			sv.fr.WriteRSTStream(1, http2.ErrCodeCancel)
			return []flight{{false, sv.take()}}
		}, []string{"1/1 finding h2-reset-mid-frame: the server reset stream 1 (CANCEL) in the middle of a WebSocket frame from the server", "1/1 connection rst"}},
		{"settings withdrawn", func(sv *h2Peer) {
			enable(sv)
			sv.fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 0})
		}, connectFields("/"), []string{":status", "200"}, nil,
			[]string{"1/1 finding h2-connect-setting: the server set SETTINGS_ENABLE_CONNECT_PROTOCOL back to 0 after 1 (RFC 8441 §3)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, sv := newH2Peer(true), newH2Peer(false)
			tc.before(sv)
			fl := []flight{{false, sv.take()}}
			cl.fr.WriteSettings()
			cl.headers(1, false, tc.req...)
			fl = append(fl, flight{true, cl.take()})
			sv.headers(1, false, tc.resp...)
			fl = append(fl, flight{false, sv.take()})
			if tc.after != nil {
				fl = append(fl, tc.after(cl, sv)...)
			}
			h2Run(t, fl, Options{}).has(t, tc.want...)
		})
	}
}

// TestH2c: an HTTP/1.1 request that upgrades to h2c, then a WebSocket on
// stream 3.
func TestH2c(t *testing.T) {
	req := "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"
	cl, sv := newH2Peer(true), newH2Peer(false)
	sv.buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
	sv.fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
	sv.headers(1, false, ":status", "200")
	sv.fr.WriteData(1, true, []byte("index"))
	s1 := sv.take()
	cl.fr.WriteSettings()
	cl.headers(3, false, connectFields("/ws")...)
	c1 := cl.take()
	sv.headers(3, false, ":status", "200")
	sv.fr.WriteData(3, false, sv.ws(3, OpText, "over h2c", false))
	s2 := sv.take()
	sink := h2Run(t, []flight{{true, []byte(req)}, {false, s1}, {true, c1}, {false, s2}}, Options{})
	sink.has(t, `1/3 handshake CONNECT example.com /ws status=200 sub="" ext=0`, `1/3 message server text z=false "over h2c"`, "1/3 finding close-handshake-missing: the HTTP/2 stream ended (fin) without a closing handshake")
}

// TestH2Loss: loss inside a DATA frame is a gap of that WebSocket only;
// loss across frames loses the header table, reported once per stream.
func TestH2Loss(t *testing.T) {
	cl, sv := newH2Peer(true), newH2Peer(false)
	sv.fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
	cl.fr.WriteSettings()
	cl.headers(1, false, connectFields("/a")...)
	cl.headers(3, false, connectFields("/b")...)
	sv.headers(1, false, ":status", "200")
	sv.headers(3, false, ":status", "200")
	start := append(sv.take(), []byte{}...)
	sv.fr.WriteData(1, false, sv.ws(1, OpText, strings.Repeat("x", 300), false))
	sv.fr.WriteData(3, false, sv.ws(3, OpText, "intact", false))
	data := sv.take()
	sink := &h2Sink{}
	d := New(Options{}, sink)
	c := d.NewConn(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"), Pos{Pkt: 1})
	c.opened = true
	c.Data(ClientToServer, Pos{Pkt: 2}, cl.take())
	c.Data(ServerToClient, Pos{Pkt: 3}, start)
	c.Data(ServerToClient, Pos{Pkt: 4}, data[:50])
	c.Gap(ServerToClient, Pos{Pkt: 5}, 100)
	c.Data(ServerToClient, Pos{Pkt: 6}, data[150:])
	c.End(Pos{Pkt: 7}, EndFIN)
	sink.has(t, "1/1 finding tcp-gap: 100 bytes of stream 1 from the server were not captured", `2/3 message server text z=false "intact"`)
	if strings.Contains(strings.Join(sink.lines, "\n"), "2/3 finding tcp-gap") {
		t.Errorf("the gap was blamed on stream 3:\n%s", strings.Join(sink.lines, "\n"))
	}
}

// TestH2cRefusedOrUnanswered: an Upgrade: h2c that the server refuses
// stays HTTP/1.1, and one the capture ends before answering ends quietly.
func TestH2cRefusedOrUnanswered(t *testing.T) {
	req := "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"
	ws := "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	sink := h2Run(t, []flight{{true, []byte(req)}, {false, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")}, {true, []byte(ws)},
		{false, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x02hi")}}, Options{})
	sink.has(t, `1/0 message server text z=false "hi"`)
	if s := h2Run(t, []flight{{true, []byte(req)}}, Options{}); len(s.lines) != 0 {
		t.Errorf("unanswered h2c upgrade: %v", s.lines)
	}
}
