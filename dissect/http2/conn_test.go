package http2

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// recorder is a Handler that writes what it is told as lines; DATA of a
// stream is joined into one line per stream and direction, at its end.
type recorder struct {
	lines []string
	data  map[string]*bytes.Buffer
}

func (r *recorder) key(server bool, id uint32) string { return fmt.Sprintf("%s %d", peer(server), id) }

func (r *recorder) Headers(server bool, hb *HeaderBlock) {
	var f []string
	for _, h := range hb.Fields {
		f = append(f, h.Name+"="+h.Value)
	}
	r.lines = append(r.lines, fmt.Sprintf("%s headers promised=%d decoded=%v end=%v dropped=%d [%s]", r.key(server, hb.Stream), hb.Promised, hb.Decoded, hb.EndStream, hb.Dropped, strings.Join(f, " ")))
}

func (r *recorder) Data(server bool, id uint32, b []byte) {
	if r.data == nil {
		r.data = map[string]*bytes.Buffer{}
	}
	k := r.key(server, id)
	if r.data[k] == nil {
		r.data[k] = new(bytes.Buffer)
	}
	r.data[k].Write(b)
}

func (r *recorder) flush(server bool, id uint32) {
	k := r.key(server, id)
	if b := r.data[k]; b != nil {
		d := b.String()
		if len(d) > 64 {
			d = fmt.Sprintf("%s... (%d bytes, %d distinct)", d[:32], len(d), distinct(d))
		}
		r.lines = append(r.lines, fmt.Sprintf("%s data %q", k, d))
		delete(r.data, k)
	}
}

func distinct(s string) int {
	var seen [256]bool
	n := 0
	for i := range len(s) {
		if !seen[s[i]] {
			seen[s[i]], n = true, n+1
		}
	}
	return n
}

func (r *recorder) End(server bool, id uint32) {
	r.flush(server, id)
	r.lines = append(r.lines, r.key(server, id)+" end")
}

func (r *recorder) Reset(server bool, id uint32, code ErrCode) {
	r.flush(server, id)
	r.lines = append(r.lines, fmt.Sprintf("%s reset %s", r.key(server, id), code))
}

func (r *recorder) Lost(server bool, id uint32, n int64) {
	r.flush(server, id)
	r.lines = append(r.lines, fmt.Sprintf("%s lost %d", r.key(server, id), n))
}

func (r *recorder) Problem(server bool, id uint32, kind Problem, detail string) {
	r.lines = append(r.lines, fmt.Sprintf("%s problem %s: %s", r.key(server, id), kind, detail))
}

func (r *recorder) String() string {
	for _, k := range slices.Sorted(maps.Keys(r.data)) {
		var server bool
		var id uint32
		var who string
		fmt.Sscanf(k, "%s %d", &who, &id)
		server = who == "server"
		r.flush(server, id)
	}
	return strings.Join(r.lines, "\n")
}

// writer builds one direction's bytes with x/net's Framer and HPACK
// encoder (the real ones), one encoder per direction as a peer has.
type writer struct {
	buf bytes.Buffer
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newWriter(client bool) *writer {
	w := &writer{}
	if client {
		w.buf.WriteString(Preface)
	}
	w.fr = http2.NewFramer(&w.buf, nil)
	w.fr.AllowIllegalWrites = true
	w.enc = hpack.NewEncoder(&w.hb)
	return w
}

func (w *writer) block(fields ...string) []byte {
	w.hb.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		w.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return bytes.Clone(w.hb.Bytes())
}

func (w *writer) headers(id uint32, end bool, fields ...string) {
	w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: w.block(fields...), EndHeaders: true, EndStream: end})
}

// exchange is a client and a server that open an extended CONNECT stream
// and an ordinary request, with padding, priority, CONTINUATION, DATA
// split over frames, and every other frame type.
func exchange() (cl, sv []byte) { return exchangeN(20000) }

// exchangeN is exchange with a server DATA of big bytes.
func exchangeN(big int) (cl, sv []byte) {
	c, s := newWriter(true), newWriter(false)
	s.fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
	c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}, http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 15})
	c.fr.WriteSettingsAck()
	s.fr.WriteSettingsAck()
	blk := c.block(":method", "CONNECT", ":protocol", "websocket", ":scheme", "http", ":path", "/chat", ":authority", "localhost", "sec-websocket-version", "13")
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:5], Priority: http2.PriorityParam{StreamDep: 0, Weight: 15}, PadLength: 3})
	c.fr.WriteContinuation(1, false, blk[5:9])
	c.fr.WriteContinuation(1, true, blk[9:])
	s.headers(1, false, ":status", "200")
	c.fr.WriteDataPadded(1, false, []byte("\x81\x85abcd"), []byte{0, 0})
	c.fr.WriteData(1, false, []byte("\x09\x07\x0f\x08\x0e"))
	c.fr.WritePriority(3, http2.PriorityParam{Weight: 1})
	c.headers(3, true, ":method", "GET", ":scheme", "http", ":path", "/status", ":authority", "localhost")
	s.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 3, PromiseID: 2, BlockFragment: s.block(":method", "GET", ":path", "/pushed", ":scheme", "http", ":authority", "localhost"), EndHeaders: true})
	s.headers(3, false, ":status", "200", "content-type", "text/plain")
	s.fr.WriteData(3, true, []byte("ok"))
	s.headers(2, true, ":status", "200")
	s.fr.WriteData(1, false, bytes.Repeat([]byte("s"), big))
	c.fr.WritePing(false, [8]byte{1})
	s.fr.WritePing(true, [8]byte{1})
	c.fr.WriteWindowUpdate(0, 1000)
	s.fr.WriteRawFrame(0xfa, 0, 0, []byte("unknown"))
	c.fr.WriteData(1, true, nil)
	s.fr.WriteData(1, true, []byte("bye"))
	c.fr.WriteRSTStream(5, http2.ErrCodeCancel)
	s.fr.WriteGoAway(3, http2.ErrCodeNo, []byte("done"))
	return c.buf.Bytes(), s.buf.Bytes()
}

// feed hands a Conn the client's bytes then the server's, each in chunks
// of the sizes that next gives.
func feed(cl, sv []byte, next func() int) string {
	r := &recorder{}
	c := NewConn(r, false)
	for i, b := range [][]byte{cl, sv} {
		for len(b) > 0 {
			n := min(len(b), max(1, next()))
			c.Feed(i == 1, b[:n])
			b = b[n:]
		}
	}
	c.Close()
	return r.String()
}

func TestConnExchange(t *testing.T) {
	cl, sv := exchange()
	got := feed(cl, sv, func() int { return 1 << 30 })
	want := []string{
		`client 1 headers promised=0 decoded=true end=false dropped=0 [:method=CONNECT :protocol=websocket :scheme=http :path=/chat :authority=localhost sec-websocket-version=13]`,
		`client 3 headers promised=0 decoded=true end=true dropped=0 [:method=GET :scheme=http :path=/status :authority=localhost]`,
		`client 3 end`,
		`client 1 data "\x81\x85abcd\t\a\x0f\b\x0e"`,
		`client 1 end`,
		`client 5 problem stream-state: RST_STREAM on stream 5, which was never opened (RFC 9113 §5.1)`,
		`client 5 reset CANCEL`,
		`server 1 headers promised=0 decoded=true end=false dropped=0 [:status=200]`,
		`server 3 headers promised=2 decoded=true end=false dropped=0 [:method=GET :path=/pushed :scheme=http :authority=localhost]`,
		`server 3 headers promised=0 decoded=true end=false dropped=0 [:status=200 content-type=text/plain]`,
		`server 3 data "ok"`,
		`server 3 end`,
		`server 2 headers promised=0 decoded=true end=true dropped=0 [:status=200]`,
		`server 2 end`,
		`server 1 data "ssssssssssssssssssssssssssssssss... (20003 bytes, 4 distinct)"`,
		`server 1 end`,
	}
	if got != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

// TestConnSplitInvariant: any chunking of the same bytes gives the same
// events (house style 13).
func TestConnSplitInvariant(t *testing.T) {
	cl, sv := exchange()
	want := feed(cl, sv, func() int { return 1 << 30 })
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		limit := 1 + rng.IntN(40)
		if got := feed(cl, sv, func() int { return 1 + rng.IntN(limit) }); got != want {
			t.Fatalf("chunking %d (up to %d bytes) differs:\n%s\nwant\n%s", i, limit, got, want)
		}
	}
}

func TestConnRules(t *testing.T) {
	settings := func(w *writer) { w.fr.WriteSettings() }
	for _, tc := range []struct {
		name   string
		client func(w *writer)
		server func(w *writer)
		want   string // a line the recorder must hold
	}{
		{"data after end", func(w *writer) {
			w.headers(1, false, ":method", "GET", ":path", "/")
			w.fr.WriteData(1, true, []byte("a"))
			w.fr.WriteData(1, false, []byte("b"))
		}, settings, "client 1 problem stream-state: DATA on stream 1 after the sender ended it with END_STREAM (RFC 9113 §5.1)"},
		{"data on idle stream", func(w *writer) { w.fr.WriteData(7, false, []byte("x")) }, settings,
			"client 7 problem stream-state: DATA on stream 7, which was never opened (RFC 9113 §5.1)"},
		{"data on stream 0", func(w *writer) { w.fr.WriteData(0, false, []byte("x")) }, settings,
			"client 0 problem malformed: a DATA frame on stream 0 (RFC 9113 §6.1)"},
		{"continuation interrupted", func(w *writer) {
			w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: w.block(":method", "GET")})
			w.fr.WritePing(false, [8]byte{})
		}, settings, "client 1 problem malformed: a PING frame came in the middle of the header block of stream 1, which only CONTINUATION frames may continue (RFC 9113 §6.10)"},
		{"stray continuation", func(w *writer) { w.fr.WriteContinuation(1, true, []byte{0x82}) }, settings,
			"client 1 problem malformed: a CONTINUATION frame on stream 1 follows no unfinished header block of that stream (RFC 9113 §6.10)"},
		{"bad settings length", settings, func(w *writer) { w.fr.WriteRawFrame(http2.FrameSettings, 0, 0, []byte{0, 8, 0, 0, 0}) },
			"server 0 problem malformed: a SETTINGS frame of 5 bytes, not a multiple of 6 (RFC 9113 §6.5)"},
		{"connect setting withdrawn", settings, func(w *writer) {
			w.fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
			w.fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 0})
		}, "server 0 problem connect: the server set SETTINGS_ENABLE_CONNECT_PROTOCOL back to 0 after 1 (RFC 8441 §3)"},
		{"padding too long", func(w *writer) {
			w.headers(1, false, ":method", "POST")
			w.fr.WriteRawFrame(http2.FrameData, FlagPadded, 1, []byte{9, 'a', 'b'})
		}, settings, "client 1 problem malformed: a DATA frame's padding (9 bytes) is longer than its payload (RFC 9113 §6.1)"},
		{"bad hpack", func(w *writer) {
			w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0xff, 0xff, 0xff, 0xff}, EndHeaders: true})
		}, settings,
			"client 1 headers promised=0 decoded=false end=false dropped=0 []"},
		{"frame too large", func(w *writer) {
			w.headers(1, false, ":method", "POST")
			w.fr.WriteData(1, false, make([]byte, 20000))
		}, settings, "client 1 problem malformed: a DATA frame of 20000 bytes exceeds the peer's SETTINGS_MAX_FRAME_SIZE of 16384 (RFC 9113 §4.2)"},
		{"window update zero", func(w *writer) { w.fr.WriteWindowUpdate(0, 0) }, settings,
			"client 0 problem malformed: a WINDOW_UPDATE frame with an increment of 0 (RFC 9113 §6.9)"},
		{"bad preface", func(w *writer) {
			w.buf.Reset()
			w.buf.WriteString("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
		}, settings, "client 0 problem malformed: the client's connection preface is not PRI * HTTP/2.0 (RFC 9113 §3.4); frames are read from here on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := newWriter(true), newWriter(false)
			tc.client(c)
			tc.server(s)
			got := feed(c.buf.Bytes(), s.buf.Bytes(), func() int { return 1 << 30 })
			if !strings.Contains(got+"\n", tc.want+"\n") {
				t.Errorf("no line %q in\n%s", tc.want, got)
			}
		})
	}
}

// TestHPACKBomb: a header block of 100,000 references to one 4 KB entry of
// the dynamic table decodes to 400 MB; the Conn keeps 256 KiB of it.
func TestHPACKBomb(t *testing.T) {
	c := newWriter(true)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.WriteField(hpack.HeaderField{Name: "x", Value: strings.Repeat("a", 4000)})
	blk := append(bytes.Clone(hb.Bytes()), bytes.Repeat([]byte{0xbe}, 100000)...) // 0xbe: index 62, the entry just added
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:16000]})
	for rest := blk[16000:]; len(rest) > 0; {
		n := min(len(rest), 16000)
		c.fr.WriteContinuation(1, n == len(rest), rest[:n])
		rest = rest[n:]
	}
	got := feed(c.buf.Bytes(), nil, func() int { return 1 << 30 })
	if !strings.Contains(got, "problem header-list: the header list of stream 1 decodes to more than 262144 bytes (an HPACK bomb?); 99937 fields past it are dropped") {
		t.Errorf("got %.500s", got)
	}
}

func TestConnGap(t *testing.T) {
	c, s := newWriter(true), newWriter(false)
	s.fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
	c.headers(1, false, ":method", "CONNECT", ":protocol", "websocket")
	s.headers(1, false, ":status", "200")
	c.headers(3, false, ":method", "CONNECT", ":protocol", "websocket")
	s.headers(3, false, ":status", "200")
	before := s.buf.Len()
	s.fr.WriteData(1, false, bytes.Repeat([]byte("a"), 1000))
	s.fr.WriteData(3, false, bytes.Repeat([]byte("b"), 100))
	s.fr.WriteData(1, false, bytes.Repeat([]byte("c"), 100))
	s.fr.WriteData(3, false, bytes.Repeat([]byte("d"), 100))
	s.fr.WriteData(1, false, bytes.Repeat([]byte("e"), 100))
	sb := s.buf.Bytes()
	run := func(at, n int) string {
		r := &recorder{}
		conn := NewConn(r, false)
		conn.Feed(false, c.buf.Bytes())
		conn.Feed(true, sb[:before+at])
		conn.Gap(true, int64(n))
		conn.Feed(true, sb[before+at+n:])
		return r.String()
	}
	// Inside one DATA frame: the frame layer keeps its place.
	got := run(9+100, 500)
	if !strings.Contains(got, `server 1 lost 500`) || strings.Contains(got, "problem") || !strings.Contains(got, `server 3 data "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb... (200 bytes, 2 distinct)"`) {
		t.Errorf("gap inside a frame:\n%s", got)
	}
	// Across frames: the place is lost, then found again.
	got = run(9+900, 100+9+50)
	for _, want := range []string{"server 0 problem loss: bytes were not captured between frames: the server's header compression state is lost", "server 0 lost -1", "server 0 problem loss: frame parsing resumed after skipping 50 bytes from the server", `server 1 data "cccccccccccccccccccccccccccccccc... (200 bytes, 2 distinct)"`, `server 3 data "dddddddddddddddddddddddddddddddd... (100 bytes, 1 distinct)"`} {
		if !strings.Contains(got, want) {
			t.Errorf("gap across frames: no %q in\n%s", want, got)
		}
	}
}

func FuzzConn(f *testing.F) {
	cl, sv := exchangeN(100)
	f.Add(cl, sv, uint8(7))
	f.Add(cl[:len(cl)/2], sv[len(sv)/3:], uint8(1))
	f.Fuzz(func(t *testing.T, cl, sv []byte, chunk uint8) {
		whole := feed(cl, sv, func() int { return 1 << 30 })
		n := int(chunk%32) + 1
		if got := feed(cl, sv, func() int { return n }); got != whole {
			t.Fatalf("chunks of %d differ:\n%s\nwhole:\n%s", n, got, whole)
		}
		// Gaps anywhere never panic.
		r := &recorder{}
		c := NewConn(r, false)
		for i := 0; i < len(sv); i += n * 3 {
			c.Feed(true, sv[i:min(len(sv), i+n)])
			c.Gap(true, int64(n))
		}
		c.Close()
	})
}
