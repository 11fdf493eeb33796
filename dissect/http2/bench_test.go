package http2

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2"
)

type nopHandler struct{}

func (nopHandler) Headers(bool, *HeaderBlock)            {}
func (nopHandler) Data(bool, uint32, []byte)             {}
func (nopHandler) End(bool, uint32)                      {}
func (nopHandler) Reset(bool, uint32, ErrCode)           {}
func (nopHandler) Lost(bool, uint32, int64)              {}
func (nopHandler) Problem(bool, uint32, Problem, string) {}

// BenchmarkConn measures the frame layer on a WebSocket over an extended
// CONNECT stream: 2,000 DATA frames of 40-1,000 bytes each way, with
// HEADERS of two other streams among them (bytes/s, allocations per
// connection), fed in 1,448-byte segments.
func BenchmarkConn(b *testing.B) {
	c, s := newWriter(true), newWriter(false)
	s.fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
	c.fr.WriteSettings()
	c.fr.WriteSettingsAck()
	s.fr.WriteSettingsAck()
	c.headers(1, false, ":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/chat", ":authority", "example.com", "sec-websocket-version", "13")
	s.headers(1, false, ":status", "200")
	payload := bytes.Repeat([]byte("x"), 1000)
	for i := range 2000 {
		n := 40 + i*7%960
		c.fr.WriteData(1, false, payload[:n])
		s.fr.WriteData(1, false, payload[:n])
		if i%1000 == 500 {
			id := uint32(3 + 2*(i/1000))
			c.headers(id, true, ":method", "GET", ":scheme", "https", ":path", "/status", ":authority", "example.com")
			s.headers(id, false, ":status", "200", "content-type", "text/plain")
			s.fr.WriteData(id, true, []byte("ok"))
		}
	}
	cl, sv := c.buf.Bytes(), s.buf.Bytes()
	b.SetBytes(int64(len(cl) + len(sv)))
	b.ReportAllocs()
	for b.Loop() {
		conn := NewConn(nopHandler{}, false)
		for i, d := range [][]byte{cl, sv} {
			for len(d) > 0 {
				n := min(len(d), 1448)
				conn.Feed(i == 1, d[:n])
				d = d[n:]
			}
		}
		conn.Close()
	}
}
