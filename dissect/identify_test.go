package dissect

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	cryptotls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wscap/wscap/stream"
	xhttp2 "golang.org/x/net/http2"
)

// segConn keeps each write through a net.Conn as one segment.
type segConn struct {
	net.Conn
	dir  Direction
	mu   *sync.Mutex
	segs *[]step
}

func (c segConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	*c.segs = append(*c.segs, step{dir: c.dir, data: bytes.Clone(b)})
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// tlsSession runs a real crypto/tls session (handshake, then a request and
// an answer) and returns what each peer wrote, in order.
func tlsSession(t testing.TB, max uint16) []step {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "chat.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"chat.example.com"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	var mu sync.Mutex
	var segs []step
	srv := cryptotls.Server(segConn{b, ServerToClient, &mu, &segs}, &cryptotls.Config{Certificates: []cryptotls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MaxVersion: max})
	cli := cryptotls.Client(segConn{a, ClientToServer, &mu, &segs}, &cryptotls.Config{InsecureSkipVerify: true, ServerName: "chat.example.com", NextProtos: []string{"http/1.1"}, MaxVersion: max})
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 100)
		n, err := srv.Read(buf)
		if err == nil {
			_, err = srv.Write(bytes.ToUpper(buf[:n]))
		}
		done <- err
	}()
	if _, err := cli.Write([]byte("GET / HTTP/1.1\r\nHost: chat.example.com\r\nUpgrade: websocket\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if _, err := cli.Read(buf); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	mu.Lock()
	defer mu.Unlock()
	return segs
}

// identifyConn feeds steps to a connection made by NewStream and returns
// the census and the events.
func identifyConn(t *testing.T, opened bool, opts Options, steps []step) (*Census, *recorder) {
	t.Helper()
	rec := &recorder{}
	d := New(opts, rec)
	s := d.NewStream(stream.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:443"), First: Pos{Pkt: 1}, Opened: opened})
	for i, st := range steps {
		p := Pos{Pkt: uint64(i + 2)}
		if st.gap > 0 {
			s.Gap(st.dir, p, st.gap)
		} else if s.Active() {
			s.Data(st.dir, p, bytes.Clone(st.data))
		}
	}
	s.End(Pos{Pkt: uint64(len(steps) + 2)}, EndFIN)
	return d.Census(), rec
}

// TestIdentify: each connection is counted under what it carried, and
// only WebSocket traffic makes events.
func TestIdentify(t *testing.T) {
	tls13, tls12 := tlsSession(t, cryptotls.VersionTLS13), tlsSession(t, cryptotls.VersionTLS12)
	lowBytes := make([]byte, 3000)
	for i := range lowBytes {
		lowBytes[i] = byte(i * 7 % 3)
	}
	h2 := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
	h2frames := []byte("\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x0f\x00\x01\x00\x00\x05\x00\x01\x00\x00\x00\x01hello")
	ws := frames(server(OpText, "hello"), server(OpText, "world"), server(OpBinary, "!"))
	for _, tc := range []struct {
		name   string
		opened bool
		steps  []step
		want   Protocol
		sni    string
	}{
		{"TLS 1.3", true, tls13, ProtoTLS, "chat.example.com"},
		{"TLS 1.2", true, tls12, ProtoTLS, "chat.example.com"},
		{"TLS 1.3 from its ServerHello on", false, tls13[1:], ProtoTLS, ""},
		{"TLS 1.3 application data only", false, tls13[len(tls13)-2:], ProtoTLS, ""},
		{"TLS 1.2 application data only", false, tls12[len(tls12)-2:], ProtoTLS, ""},
		{"h2c prior knowledge", true, []step{c2s(h2)}, ProtoHTTP2, ""},
		{"HTTP/2 frames mid-stream", false, []step{s2c(h2frames)}, ProtoHTTP2, ""},
		{"bytes dense in 00-02", true, []step{c2s(lowBytes[:1000]), s2c(lowBytes[1000:])}, ProtoOther, ""},
		{"a ClientHello field that chains as frames", true, []step{c2s([]byte("\x00\x0a\x00\x17\x00\x01"))}, ProtoOther, ""},
		{"HTTP keep-alive", true, []step{c2s([]byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")), s2c([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))}, ProtoHTTP, ""},
		{"HTTP response mid-stream", false, []step{s2c([]byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n\x81\x01a"))}, ProtoHTTP, ""},
		{"WebSocket frames with the start captured", true, []step{s2c(ws)}, ProtoOther, ""},
		{"WebSocket frames mid-stream, one segment", false, []step{s2c(ws)}, ProtoOther, ""},
		{"WebSocket frames mid-stream", false, []step{s2c(frames(server(OpText, "hello"))), s2c(frames(server(OpText, "world"))), s2c(frames(server(OpBinary, "!")))}, ProtoWebSocket, ""},
		{"WebSocket frames mid-stream, both ways", false, []step{c2s(frames(client(OpText, "hello"))), s2c(frames(server(OpText, "world"))), c2s(frames(client(OpBinary, "!")))}, ProtoWebSocket, ""},
		{"frames unmasked both ways", false, []step{c2s(frames(server(OpText, "hello"))), s2c(frames(server(OpText, "world"))), c2s(frames(server(OpBinary, "!"))), s2c(frames(server(OpText, "again")))}, ProtoOther, ""},
		{"DNS over TCP mid-stream", false, []step{c2s([]byte("\x00\x1c\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x07example\x03com\x00\x00\x01\x00\x01")), s2c([]byte("\x00\x05abcde\x00\x02ab")), c2s([]byte("\x00\x03abc"))}, ProtoOther, ""},
		{"control bytes as text", false, []step{s2c([]byte("\x81\x02\x00\x01")), s2c([]byte("\x81\x02\x02\x01")), s2c([]byte("\x81\x01\x00"))}, ProtoOther, ""},
		{"WebSocket upgrade", true, upgraded(s2c(ws)), ProtoWebSocket, ""},
		{"the 101 without its request", false, []step{s2c([]byte(response())), c2s(frames(client(OpText, "hi"))), s2c(ws)}, ProtoWebSocket, ""},
		{"an h2c 101 without its request", false, []step{s2c([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")), s2c(h2frames)}, ProtoOther, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, rec := identifyConn(t, tc.opened, Options{}, tc.steps)
			for p, n := range cs.Protocols {
				if want := int64(0); Protocol(p) == tc.want && n != 1 || Protocol(p) != tc.want && n != want {
					t.Errorf("census %v, want one %s", cs.Protocols, tc.want)
					break
				}
			}
			if tc.want == ProtoTLS {
				if tc.sni != "" && cs.ServerNames[tc.sni] != 1 || tc.sni == "" && cs.NoName != 1 {
					t.Errorf("server names %v, no name %d; want %q", cs.ServerNames, cs.NoName, tc.sni)
				}
			}
			if tc.want != ProtoWebSocket && len(rec.lines) != 0 {
				t.Errorf("events on a %s connection: %v", tc.want, rec.codes())
			}
		})
	}
}

// TestIdentifyForced: --ws-port still decodes a connection as WebSocket
// whatever its start.
func TestIdentifyForced(t *testing.T) {
	ws := frames(server(OpText, "hello"))
	cs, rec := identifyConn(t, true, Options{WSPorts: []uint16{443}}, []step{s2c(ws)})
	if cs.Protocols[ProtoWebSocket] != 1 || len(rec.lines) == 0 {
		t.Errorf("census %v, %d events", cs.Protocols, len(rec.lines))
	}
}

// TestCensusRejected: a refused upgrade counts as HTTP and as rejected.
func TestCensusRejected(t *testing.T) {
	cs, _ := identifyConn(t, true, Options{}, []step{c2s([]byte(request())), s2c([]byte("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n"))})
	if cs.Protocols[ProtoHTTP] != 1 || cs.Rejected != 1 || cs.Protocols[ProtoWebSocket] != 0 {
		t.Errorf("census %+v", cs)
	}
	var sum Census
	sum.Add(cs)
	sum.Add(cs)
	if sum.Protocols[ProtoHTTP] != 2 || sum.Rejected != 2 {
		t.Errorf("Add: %+v", sum)
	}
}

// TestCensusNamesCapped: past MaxServerNames distinct names, connections
// are counted, not named.
func TestCensusNamesCapped(t *testing.T) {
	var c Census
	for i := range MaxServerNames + 5 {
		c.addName(string(rune('a'+i%26))+string(rune(i)), 1)
	}
	c.addName("", 1)
	if len(c.ServerNames) != MaxServerNames || c.MoreNames != 5 || c.NoName != 1 {
		t.Errorf("%d names, %d more, %d without", len(c.ServerNames), c.MoreNames, c.NoName)
	}
}

// posSink records events and checks that each is reported at the packet
// being handled when it is emitted: events never go back in input order,
// nor ahead of it.
type posSink struct {
	recorder
	now Pos
	bad []string
}

func (s *posSink) Emit(ev *Event) error {
	if ev.Pos.Pkt != s.now.Pkt || !ev.Pos.TS.Equal(s.now.TS) {
		s.bad = append(s.bad, fmt.Sprintf("event %d at packet %d, handling packet %d", ev.Kind, ev.Pos.Pkt, s.now.Pkt))
	}
	return s.recorder.Emit(ev)
}

// splitRun feeds steps to a connection made by NewStream, a packet each,
// and returns the census and the events.
func splitRun(t *testing.T, opened bool, steps []step) (*Census, *posSink) {
	t.Helper()
	sink := &posSink{}
	d := New(Options{}, sink)
	start := Pos{Pkt: 1, TS: time.Unix(1700000000, 0)}
	sink.now = start
	s := d.NewStream(stream.Conn{Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:443"), First: start, Opened: opened})
	for i, st := range steps {
		p := Pos{Pkt: uint64(i + 2), TS: start.TS.Add(time.Duration(i+1) * time.Millisecond)}
		sink.now = p
		switch {
		case st.gap > 0:
			s.Gap(st.dir, p, st.gap)
		case s.Active():
			s.Data(st.dir, p, bytes.Clone(st.data))
		}
	}
	sink.now = Pos{Pkt: uint64(len(steps) + 2), TS: start.TS.Add(time.Hour)}
	s.End(sink.now, EndFIN)
	return d.Census(), sink
}

// h2Conversation is an HTTP/2 connection carrying one WebSocket, in
// flights (one packet each); serverFirst puts the server's SETTINGS before
// the client's preface.
func h2Conversation(serverFirst bool) []step {
	cl, sv := newH2Peer(true), newH2Peer(false)
	sv.fr.WriteSettings(xhttp2.Setting{ID: xhttp2.SettingEnableConnectProtocol, Val: 1})
	s1 := sv.take()
	cl.fr.WriteSettings()
	cl.fr.WriteSettingsAck()
	cl.headers(1, false, connectFields("/chat")...)
	c1 := cl.take()
	sv.fr.WriteSettingsAck()
	sv.headers(1, false, ":status", "200")
	sv.fr.WriteData(1, false, sv.ws(1, OpText, "welcome", false))
	s2 := sv.take()
	cl.fr.WriteData(1, false, cl.ws(1, OpText, "hello", false))
	cl.fr.WriteData(1, true, cl.ws(1, OpClose, "\x03\xe8", false))
	c2 := cl.take()
	sv.fr.WriteData(1, true, sv.ws(1, OpClose, "\x03\xe8", false))
	s3 := sv.take()
	if serverFirst {
		return []step{s2c(s1), c2s(c1), s2c(s2), c2s(c2), s2c(s3)}
	}
	return []step{c2s(c1), s2c(s1), s2c(s2), c2s(c2), s2c(s3)}
}

// TestIdentifySplit: what a connection is does not depend on how its
// bytes were cut into packets. The same bytes fed whole, split in two at
// every offset of every delivery, and a byte a packet, give the same
// records, findings and census; first bytes too short to identify are
// kept until they are not (identify.go).
func TestIdentifySplit(t *testing.T) {
	tls13 := tlsSession(t, cryptotls.VersionTLS13)
	ws := frames(server(OpText, "welcome"))
	talk := []step{
		c2s(frames(client(OpText, "hello"), client(OpClose, closePayload(1000, "")))),
		s2c(frames(server(OpClose, closePayload(1000, "")))),
	}
	for _, tc := range []struct {
		name   string
		opened bool
		steps  []step
		want   Protocol
		events bool // the whole run has events
	}{
		// The fuzzer's seed fac80af72ad31f2d: a 101 whose request was not
		// captured, malformed, alone in its packet or a byte a packet. An
		// answer that does not parse does not say it was a WebSocket's: an
		// HTTP connection picked up mid-stream, no events.
		{"a malformed 101 without its request", false, append([]step{s2c([]byte("HTTP/1.1 101 \n0\n\n")), s2c(ws)}, talk...), ProtoHTTP, false},
		{"the 101 without its request", false, append([]step{s2c([]byte(response()), ws)}, talk...), ProtoWebSocket, true},
		{"an upgrade", true, upgraded(append([]step{s2c(ws)}, talk...)...), ProtoWebSocket, true},
		{"keep-alive requests, then an upgrade", true, append([]step{c2s([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")), s2c([]byte("HTTP/1.1 204 No Content\r\n\r\n")),
			c2s([]byte(request())), s2c([]byte(response()), ws)}, talk...), ProtoWebSocket, true},
		{"TLS 1.3", true, tls13, ProtoTLS, false},
		{"TLS 1.3 from its ServerHello on", false, tls13[1:], ProtoTLS, false},
		{"HTTP/2, the client's preface first", true, h2Conversation(false), ProtoHTTP2, true},
		{"HTTP/2, the server's SETTINGS first", true, h2Conversation(true), ProtoHTTP2, true},
		{"an SSH banner from the server", true, []step{s2c([]byte("SSH-2.0-OpenSSH_9.6\r\n")), c2s([]byte("SSH-2.0-Go\r\n"))}, ProtoOther, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, whole := splitRun(t, tc.opened, tc.steps)
			if cs.Protocols[tc.want] != 1 {
				t.Fatalf("census %v, want one %s", cs.Protocols, tc.want)
			}
			if tc.events != (len(whole.lines) > 0) {
				t.Fatalf("whole: events %q", whole.lines)
			}
			if tc.want == ProtoTLS && tc.opened && cs.ServerNames["chat.example.com"] != 1 {
				t.Fatalf("server names %v", cs.ServerNames)
			}
			check := func(what string, steps []step) {
				t.Helper()
				cs2, split := splitRun(t, tc.opened, steps)
				if len(split.bad) > 0 {
					t.Fatalf("%s: %s", what, strings.Join(split.bad, "\n"))
				}
				if w, s := strings.Join(whole.lines, "\n"), strings.Join(split.lines, "\n"); w != s {
					t.Fatalf("%s: events differ:\nwhole:\n%s\nsplit:\n%s", what, w, s)
				}
				if !reflect.DeepEqual(cs, cs2) {
					t.Fatalf("%s: census\n%+v\nwhole:\n%+v", what, cs2, cs)
				}
			}
			if len(whole.bad) > 0 {
				t.Fatalf("whole: %s", strings.Join(whole.bad, "\n"))
			}
			for i, st := range tc.steps {
				for k := 1; k < len(st.data); k++ {
					steps := slices.Concat(tc.steps[:i], []step{{dir: st.dir, data: st.data[:k]}, {dir: st.dir, data: st.data[k:]}}, tc.steps[i+1:])
					check(fmt.Sprintf("delivery %d split at %d", i, k), steps)
				}
			}
			check("a byte a packet", chunked([]byte{0}, tc.steps...))
		})
	}
}

// TestIdentifySettle: first bytes kept undecided are decided on when
// something else comes first (the other direction, a loss, the end), and
// reach the layer chosen.
func TestIdentifySettle(t *testing.T) {
	ws := frames(server(OpText, "welcome"))
	req := []byte(request())
	for _, tc := range []struct {
		name   string
		opened bool
		steps  []step
		want   Protocol
		events int // how many, at least
	}{
		{"a method, then the server", true, []step{c2s(req[:3]), s2c([]byte("HTTP/1.1 100 Continue\r\n\r\n")), c2s(req[3:]), s2c([]byte(response()), ws)}, ProtoWebSocket, 3},
		{"a method, then the end", true, []step{c2s(req[:3])}, ProtoHTTP, 0},
		{"a 101 cut short, then a loss", false, []step{s2c([]byte("HTTP/1.1 10")), {dir: ServerToClient, gap: 100}, s2c([]byte(response()))}, ProtoHTTP, 0},
		{"a 101 cut short, then the end", false, []step{s2c([]byte("HTTP/1.1 10"))}, ProtoHTTP, 0},
		{"a TLS record header, then a loss", true, []step{c2s([]byte("\x16\x03\x01\x02\x00")), {dir: ClientToServer, gap: 512}}, ProtoTLS, 0},
		{"a TLS record header, then the end", true, []step{c2s([]byte("\x16\x03\x01"))}, ProtoTLS, 0},
		{"the preface begun, then the server", true, []step{c2s([]byte("PRI * HTTP/2")), s2c([]byte("\x00\x00\x00\x04\x00\x00\x00\x00\x00"))}, ProtoHTTP2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, rec := splitRun(t, tc.opened, tc.steps)
			if cs.Protocols[tc.want] != 1 {
				t.Errorf("census %v, want one %s", cs.Protocols, tc.want)
			}
			if len(rec.lines) < tc.events || tc.events == 0 && len(rec.lines) > 0 {
				t.Errorf("events:\n%s", strings.Join(rec.lines, "\n"))
			}
			if len(rec.bad) > 0 {
				t.Error(strings.Join(rec.bad, "\n"))
			}
			if tc.events > 0 && (len(rec.hs) != 1 || !rec.hs[0].Captured || rec.hs[0].Path != "/chat") {
				t.Errorf("handshake %+v", rec.hs)
			}
		})
	}
}
