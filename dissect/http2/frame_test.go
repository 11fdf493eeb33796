package http2

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// frames returns what a real HTTP/2 framer writes for a client's first
// flight after the preface, and a server's DATA.
func frames(t testing.TB) (client, server []byte) {
	var cb, sb bytes.Buffer
	fr := http2.NewFramer(&cb, nil)
	fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	fr.WriteWindowUpdate(0, 1<<20)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
	enc.WriteField(hpack.HeaderField{Name: ":path", Value: "/"})
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: true})
	fs := http2.NewFramer(&sb, nil)
	fs.WriteSettings()
	fs.WriteData(1, false, bytes.Repeat([]byte("x"), 300))
	fs.WriteData(1, true, []byte("end"))
	return cb.Bytes(), sb.Bytes()
}

func TestFrameChain(t *testing.T) {
	cl, sv := frames(t)
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"client frames", cl, true},
		{"server frames", sv, true},
		{"server frames from inside the first", sv[3:], true},
		{"one frame", sv[:FrameHeaderLen], false},
		{"cut", sv[:len(sv)-1], false},
		{"websocket frames", []byte("\x81\x05hello\x81\x02hi"), false},
		{"tls records", []byte("\x17\x03\x03\x00\x02ab\x17\x03\x03\x00\x01c"), false},
		{"zeros", make([]byte, 36), false},
	} {
		if got := FrameChain(tc.b); got != tc.want {
			t.Errorf("%s: FrameChain = %v", tc.name, got)
		}
	}
}

func TestStartsPreface(t *testing.T) {
	for b, want := range map[string]bool{Preface: true, Preface[:4]: true, Preface + "\x00\x00": true, "PRI": false, "PRI * HTTP/1.1": false, "GET / HTTP/1.1": false} {
		if StartsPreface([]byte(b)) != want {
			t.Errorf("StartsPreface(%q) = %v", b, !want)
		}
	}
}

func FuzzFrameChain(f *testing.F) {
	cl, sv := frames(f)
	f.Add(cl)
	f.Add(sv)
	f.Fuzz(func(t *testing.T, b []byte) {
		FrameChain(b)
		ParseFrameHeader(b)
		StartsPreface(b)
	})
}
