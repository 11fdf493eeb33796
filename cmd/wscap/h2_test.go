package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/wscap/wscap/internal/gen"
	"golang.org/x/net/http2"
)

// TestH2GoNetHTTP: WebSockets over HTTP/2 (RFC 8441) between Go's
// net/http client and server (h2c, prior knowledge; extended CONNECT is
// behind GODEBUG=http2xconnect=1 in Go 1.26, read at init, so the peers
// run in a child process). Two WebSockets and an ordinary request share
// one connection; the bytes the peers wrote are recorded by a proxy on
// loopback and written as a capture. Every message must come out as sent.
func TestH2GoNetHTTP(t *testing.T) {
	if out := os.Getenv("WSCAP_H2_PEERS"); out != "" {
		if err := h2Peers(out, os.Getenv("WSCAP_H2_TLS") != ""); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Run("h2c", func(t *testing.T) { testH2GoNetHTTP(t, false) })
	// h2 over TLS 1.3 (ALPN h2), decrypted with the client's key log.
	t.Run("h2", func(t *testing.T) { testH2GoNetHTTP(t, true) })
}

func testH2GoNetHTTP(t *testing.T, overTLS bool) {
	path := filepath.Join(t.TempDir(), "go-h2.pcap")
	cmd := exec.Command(os.Args[0], "-test.run=^TestH2GoNetHTTP$")
	cmd.Env = append(os.Environ(), "WSCAP_H2_PEERS="+path, "GODEBUG=http2xconnect=1")
	args := []string{"read", "--format", "jsonl", path}
	if overTLS {
		cmd.Env = append(cmd.Env, "WSCAP_H2_TLS=1")
		args = append(args, "--keylog", path+".keys")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		if strings.Contains(string(b), "no loopback") {
			t.Skip(string(b))
		}
		t.Fatalf("peers: %v\n%s", err, b)
	}
	out, stderr, code := wscap(t, args...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := map[string][]string{} // "stream path from" -> payloads
	streams := map[float64]string{}
	var totals map[string]any
	var findings []string
	for _, r := range records(t, out) {
		switch r["kind"] {
		case "handshake":
			streams[r["h2_stream"].(float64)] = r["path"].(string)
			if r["status"] != 200.0 || r["method"] != "CONNECT" || (r["tls"] != nil) != overTLS {
				t.Errorf("handshake %v", r)
			}
		case "message":
			s := streams[r["h2_stream"].(float64)]
			p, _ := r["text"].(string)
			if p == "" {
				p = fmt.Sprint(r["opcode"], " ", r["data"])
			}
			if len(p) > 40 {
				p = fmt.Sprintf("%s...(%d)", p[:10], len(p))
			}
			got[s+" "+r["from"].(string)] = append(got[s+" "+r["from"].(string)], p)
		case "finding":
			findings = append(findings, r["code"].(string)+": "+r["detail"].(string))
		case "totals":
			totals = r
		}
	}
	want := map[string][]string{
		"/chat client": {"hello from chat", "binary AAEC/w==", "xxxxxxxxxx...(20000)", "close <nil>"},
		"/chat server": {"HELLO FROM CHAT", "binary AAEC/w==", "XXXXXXXXXX...(20000)", "close <nil>"},
		"/feed client": {"subscribe", "close <nil>"},
		"/feed server": {"SUBSCRIBE", "close <nil>"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("messages\n got %v\nwant %v", got, want)
	}
	if len(findings) > 0 {
		t.Errorf("findings: %v", findings)
	}
	if totals["websocket_connections"] != 2.0 || totals["h2_websockets"] != 2.0 || totals["h2_other_streams"] != 1.0 {
		t.Errorf("totals %v", totals)
	}
}

// h2Peers runs the server and the client through a recording proxy and
// writes what went over it to path.
func h2Peers(path string, overTLS bool) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("no loopback: %v", err)
	}
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	mux := http.NewServeMux()
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	echo := func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Header.Get(":protocol") != "websocket" {
			http.Error(w, "want extended CONNECT", http.StatusBadRequest)
			return
		}
		rc := http.NewResponseController(w)
		rc.EnableFullDuplex()
		w.WriteHeader(http.StatusOK)
		rc.Flush()
		br := bufio.NewReader(r.Body)
		for {
			op, payload, err := readWS(br)
			if err != nil {
				return
			}
			if op == 1 {
				payload = bytes.ToUpper(payload)
			}
			w.Write(wsBytes(op, payload, false))
			rc.Flush()
			if op == 8 {
				return
			}
		}
	}
	mux.HandleFunc("/chat", echo)
	mux.HandleFunc("/feed", echo)
	srv := &http.Server{Handler: mux, Protocols: &protos}
	var keys *os.File
	if overTLS {
		cert, err := selfSigned()
		if err != nil {
			return err
		}
		srv.Protocols = nil // HTTP/2 by ALPN
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		keys, err = os.Create(path + ".keys")
		if err != nil {
			return err
		}
		defer keys.Close()
		go srv.ServeTLS(ln, "", "")
	} else {
		go srv.Serve(ln)
	}
	defer srv.Close()

	rec, proxyAddr, err := recordingProxy(ln.Addr().String())
	if err != nil {
		return err
	}
	// net/http's Transport refuses a ":protocol" header field; x/net's
	// HTTP/2 Transport takes it (the same code, unbundled).
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	scheme := "http://"
	if overTLS {
		tr = &http2.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, KeyLogWriter: keys, NextProtos: []string{"h2"}}}
		scheme = "https://"
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	type ws struct {
		w    *io.PipeWriter
		r    *bufio.Reader
		body io.Closer
	}
	open := func(path string) (*ws, error) {
		pr, pw := io.Pipe()
		req, _ := http.NewRequest(http.MethodConnect, scheme+proxyAddr+path, pr)
		req.Header.Set(":protocol", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("%s: status %d", path, resp.StatusCode)
		}
		return &ws{pw, bufio.NewReader(resp.Body), resp.Body}, nil
	}
	exchange := func(c *ws, op byte, payload []byte) error {
		if _, err := c.w.Write(wsBytes(op, payload, true)); err != nil {
			return err
		}
		_, _, err := readWS(c.r)
		return err
	}
	chat, err := open("/chat")
	if err != nil {
		return err
	}
	if err := exchange(chat, 1, []byte("hello from chat")); err != nil {
		return err
	}
	feed, err := open("/feed")
	if err != nil {
		return err
	}
	resp, err := client.Get(scheme + proxyAddr + "/status")
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	steps := []struct {
		c  *ws
		op byte
		p  []byte
	}{
		{feed, 1, []byte("subscribe")},
		{chat, 2, []byte{0, 1, 2, 0xff}},
		{chat, 1, bytes.Repeat([]byte("x"), 20000)},
		{feed, 8, []byte{3, 232}},
		{chat, 8, []byte{3, 232}},
	}
	for _, s := range steps {
		if err := exchange(s.c, s.op, s.p); err != nil {
			return err
		}
	}
	chat.w.Close()
	feed.w.Close()
	time.Sleep(100 * time.Millisecond)
	tr.CloseIdleConnections()
	time.Sleep(100 * time.Millisecond)
	return rec.write(path)
}

// selfSigned makes a certificate for the TLS server.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// wsBytes is one unfragmented WebSocket frame (RFC 6455 §5.2), masked for
// a client.
func wsBytes(op byte, payload []byte, mask bool) []byte {
	b := []byte{0x80 | op, 0}
	switch n := len(payload); {
	case n < 126:
		b[1] = byte(n)
	case n < 1<<16:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !mask {
		return append(b, payload...)
	}
	b[1] |= 0x80
	var key [4]byte
	rand.Read(key[:])
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// readWS reads one frame.
func readWS(r *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		_, err = io.ReadFull(r, l[:])
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, err = io.ReadFull(r, l[:])
		n = binary.BigEndian.Uint64(l[:])
	}
	var key [4]byte
	if h[1]&0x80 != 0 {
		_, err = io.ReadFull(r, key[:])
	}
	if err != nil || n > 1<<24 {
		return 0, nil, errors.Join(err, errors.New("bad frame"))
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return
	}
	if h[1]&0x80 != 0 {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return h[0] & 0x0f, payload, nil
}

// recorder keeps what went over one proxied TCP connection, in order.
type recorder struct {
	mu     sync.Mutex
	chunks []chunk
	done   chan struct{}
}

type chunk struct {
	from gen.Direction
	b    []byte
}

// recordingProxy accepts one connection and relays it to target,
// recording each read.
func recordingProxy(target string) (*recorder, string, error) {
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	rec := &recorder{done: make(chan struct{})}
	go func() {
		defer close(rec.done)
		cn, err := pl.Accept()
		pl.Close()
		if err != nil {
			return
		}
		sn, err := net.Dial("tcp", target)
		if err != nil {
			cn.Close()
			return
		}
		var wg sync.WaitGroup
		relay := func(dst, src net.Conn, from gen.Direction) {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for {
				n, err := src.Read(buf)
				if n > 0 {
					rec.mu.Lock()
					rec.chunks = append(rec.chunks, chunk{from, bytes.Clone(buf[:n])})
					dst.Write(buf[:n])
					rec.mu.Unlock()
				}
				if err != nil {
					dst.(*net.TCPConn).CloseWrite()
					return
				}
			}
		}
		wg.Add(2)
		go relay(sn, cn, gen.FromClient)
		go relay(cn, sn, gen.FromServer)
		wg.Wait()
		cn.Close()
		sn.Close()
	}()
	return rec, pl.Addr().String(), nil
}

// write writes the recorded connection as a capture: the bytes as the
// peers wrote them, in TCP segments of the generator.
func (r *recorder) write(path string) error {
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		return errors.New("the proxied connection did not end")
	}
	c := gen.New(gen.Options{Seed: 1})
	conn := c.Conn(gen.ConnOptions{})
	for _, ch := range r.chunks {
		conn.Raw(ch.from, ch.b)
	}
	conn.Teardown()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = c.Write(f)
	return err
}

// h2Expectation is testdata/h2/NAME.json: what each side of each
// WebSocket stream of a capture sent, as the peers logged it.
type h2Expectation struct {
	Name    string `json:"name"`
	Streams []struct {
		Stream      uint32 `json:"h2_stream"`
		Path        string `json:"path"`
		Subprotocol string `json:"subprotocol"`
		Extensions  string `json:"extensions"`
		Client      []h2Msg
		Server      []h2Msg
	} `json:"streams"`
	Other []struct {
		Stream uint32 `json:"h2_stream"`
	} `json:"other_requests"`
	// Findings lists finding codes the capture is expected to have.
	Findings []string `json:"findings"`
}

type h2Msg struct {
	Type   string `json:"type"`
	Text   string `json:"text"`
	Base64 string `json:"base64"`
}

// TestH2Captures: every WebSocket message of the HTTP/2 captures made by
// real implementations (testdata/h2, see its README) is what the peers
// logged sending, on its stream; the handshakes are as negotiated.
func TestH2Captures(t *testing.T) {
	exps, _ := filepath.Glob("../../testdata/h2/*.json")
	if len(exps) == 0 {
		t.Fatal("no captures in testdata/h2")
	}
	for _, ef := range exps {
		t.Run(filepath.Base(ef), func(t *testing.T) {
			b, err := os.ReadFile(ef)
			if err != nil {
				t.Fatal(err)
			}
			var exp h2Expectation
			if err := json.Unmarshal(b, &exp); err != nil {
				t.Fatal(err)
			}
			base := strings.TrimSuffix(ef, ".json")
			capture := base + ".pcap"
			if _, err := os.Stat(capture); err != nil {
				capture = base + ".pcapng"
			}
			args := []string{"read", "--format", "jsonl", capture}
			if _, err := os.Stat(base + ".keys"); err == nil {
				args = append(args, "--keylog", base+".keys")
			}
			out, stderr, code := wscap(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			type key struct {
				stream uint32
				from   string
			}
			got := map[key][]h2Msg{}
			hs := map[uint32]map[string]any{}
			var codes []string
			var totals map[string]any
			for _, r := range records(t, out) {
				s, _ := r["h2_stream"].(float64)
				switch r["kind"] {
				case "handshake":
					hs[uint32(s)] = r
				case "message":
					m := h2Msg{Type: r["opcode"].(string)}
					if m.Type != "text" && m.Type != "binary" {
						continue
					}
					if txt, ok := r["text"].(string); ok {
						m.Text = txt
					} else {
						m.Base64, _ = r["data"].(string)
					}
					k := key{uint32(s), r["from"].(string)}
					got[k] = append(got[k], m)
				case "finding":
					codes = append(codes, r["code"].(string))
				case "totals":
					totals = r
				}
			}
			for _, st := range exp.Streams {
				h := hs[st.Stream]
				if h == nil {
					t.Errorf("stream %d: no handshake", st.Stream)
					continue
				}
				if h["path"] != st.Path || fmt.Sprint(h["subprotocol"]) != fmt.Sprint(orNil(st.Subprotocol)) {
					t.Errorf("stream %d: handshake path %v subprotocol %v, want %s %q", st.Stream, h["path"], h["subprotocol"], st.Path, st.Subprotocol)
				}
				if ext, _ := h["extensions"].([]any); (len(ext) > 0) != (st.Extensions != "") {
					t.Errorf("stream %d: extensions %v, want %q", st.Stream, h["extensions"], st.Extensions)
				}
				for _, side := range []struct {
					from string
					want []h2Msg
				}{{"client", st.Client}, {"server", st.Server}} {
					g := got[key{st.Stream, side.from}]
					if len(g) != len(side.want) {
						t.Errorf("stream %d: %d messages from the %s, want %d", st.Stream, len(g), side.from, len(side.want))
						continue
					}
					for i := range g {
						if g[i] != side.want[i] {
							t.Errorf("stream %d, %s message %d: got %.80v, want %.80v", st.Stream, side.from, i, g[i], side.want[i])
						}
					}
				}
			}
			if fmt.Sprint(codes) != fmt.Sprint(exp.Findings) && !(len(codes) == 0 && len(exp.Findings) == 0) {
				t.Errorf("findings %v, want %v", codes, exp.Findings)
			}
			others, _ := totals["h2_other_streams"].(float64) // omitted when 0
			if totals["h2_websockets"] != float64(len(exp.Streams)) || others != float64(len(exp.Other)) {
				t.Errorf("totals %v, want %d WebSocket streams and %d others", totals, len(exp.Streams), len(exp.Other))
			}
		})
	}
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// TestH2CaptureLoss: a packet of one WebSocket stream lost from a real
// HTTP/2 capture: the frame layer finds its place again, the other
// stream's messages all come through, and the loss is reported.
func TestH2CaptureLoss(t *testing.T) {
	n := 0
	// Packet 23 carries the 20,000-byte client message of stream 1 (two
	// DATA frames and the start of a third).
	path := copyPackets(t, "../../testdata/h2/node-h2c-two.pcap", func(*layers.TCP, [2]string) bool { n++; return n != 23 })
	out, stderr, code := wscap(t, "read", "--format", "jsonl", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	msgs := map[float64]int{}
	codes := map[string]int{}
	for _, r := range records(t, out) {
		switch r["kind"] {
		case "message":
			msgs[r["h2_stream"].(float64)]++
		case "finding":
			codes[r["code"].(string)]++
		}
	}
	// Stream 3 (/feed): 4 client and 5 server messages, closes included;
	// stream 1 (/chat) lost its 20,000-byte message, not the rest.
	if msgs[3] != 9 || msgs[1] != 11 || codes["h2-lost"] != 4 || codes["tcp-gap"] != 2 {
		t.Errorf("messages by stream %v, findings %v", msgs, codes)
	}
}
