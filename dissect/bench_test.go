package dissect

import (
	"math"
	"net/netip"
	"strings"
	"testing"
)

// nullSink discards events.
type nullSink struct{ n int }

func (s *nullSink) Emit(*Event) error { s.n++; return nil }

// benchConn returns a connection past its handshake.
func benchConn(b *testing.B, opts Options, reqExt, respExt string) (*Conn, *nullSink) {
	sink := &nullSink{}
	d := New(opts, sink)
	c := d.NewConn(netip.MustParseAddrPort("10.0.0.1:4000"), netip.MustParseAddrPort("10.0.0.2:80"), Pos{Pkt: 1})
	req, resp := request(), response()
	if reqExt != "" {
		req, resp = request("Sec-WebSocket-Extensions: "+reqExt), response("Sec-WebSocket-Extensions: "+respExt)
	}
	c.Data(ClientToServer, Pos{Pkt: 1}, []byte(req))
	c.Data(ServerToClient, Pos{Pkt: 2}, []byte(resp))
	return c, sink
}

// BenchmarkFrameDecode decodes small masked client frames, many per
// segment: the per-frame cost, which must not allocate.
func BenchmarkFrameDecode(b *testing.B) {
	c, sink := benchConn(b, Options{}, "", "")
	var seg []byte
	for range 64 {
		seg = append(seg, frames(client(OpText, `{"type":"tick","seq":12345}`))...)
	}
	buf := make([]byte, len(seg))
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, seg) // unmasking works in place
		c.Data(ClientToServer, Pos{Pkt: 3}, buf)
	}
	b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "frames/s")
	_ = sink
}

// BenchmarkLargeMessage decodes one 64 KiB masked message split over 45
// segments: copying into the message buffer and unmasking.
func BenchmarkLargeMessage(b *testing.B) {
	c, _ := benchConn(b, Options{}, "", "")
	wire := frames(wsFrame{fin: true, op: OpBinary, masked: true, payload: []byte(strings.Repeat("abcdefgh", 8192))})
	buf := make([]byte, len(wire))
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, wire)
		for i := 0; i < len(buf); i += 1460 {
			c.Data(ClientToServer, Pos{Pkt: 3}, buf[i:min(i+1460, len(buf))])
		}
	}
}

// BenchmarkMask is the word-wide XOR (RFC 6455 §5.3).
func BenchmarkMask(b *testing.B) {
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	k := maskKey([4]byte{1, 2, 3, 4})
	for b.Loop() {
		k = mask(k, buf)
	}
}

// BenchmarkInflate decodes a compressed 16 KiB text message (no context
// takeover, so the same bytes can be fed again): the shared inflater
// re-primed per message.
func BenchmarkInflate(b *testing.B) {
	// The message inflates to ~300 times its size: without lifting the
	// caps, every message after the first 4 MiB would only be counted.
	c, _ := benchConn(b, Options{MaxInflateRatio: -1, MaxInflateTotal: math.MaxInt64}, "permessage-deflate", "permessage-deflate; server_no_context_takeover")
	msg := strings.Repeat(`{"type":"update","items":[{"id":81908,"qty":24272}]} `, 300)
	wire := frames(zframe(true, OpText, false, newCompressor().compress(msg)))
	buf := make([]byte, len(wire))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, wire)
		c.Data(ServerToClient, Pos{Pkt: 3}, buf)
	}
}

// BenchmarkConnection is the whole life of a short connection (upgrade
// request and response, one message each way, the closing handshake, the
// end): the per-connection cost on captures of many short connections.
func BenchmarkConnection(b *testing.B) {
	sink := &nullSink{}
	d := New(Options{}, sink)
	req := []byte(request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits", "Origin: http://example.com", "User-Agent: bench/1.0"))
	resp := []byte(response())
	cmsgs := frames(client(OpText, `{"type":"subscribe"}`), client(OpClose, closePayload(1000, "")))
	smsgs := frames(server(OpText, `{"type":"hello"}`), server(OpClose, closePayload(1000, "")))
	buf := make([]byte, len(cmsgs))
	cl, sv := netip.MustParseAddrPort("10.0.0.1:4000"), netip.MustParseAddrPort("10.0.0.2:80")
	b.ReportAllocs()
	for b.Loop() {
		c := d.NewConn(cl, sv, Pos{Pkt: 1})
		c.Data(ClientToServer, Pos{Pkt: 1}, req)
		c.Data(ServerToClient, Pos{Pkt: 2}, resp)
		copy(buf, cmsgs)
		c.Data(ClientToServer, Pos{Pkt: 3}, buf)
		c.Data(ServerToClient, Pos{Pkt: 4}, smsgs)
		c.End(Pos{Pkt: 4}, EndFIN)
		c.Release()
	}
}
