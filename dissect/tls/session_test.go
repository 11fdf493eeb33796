package tls

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// segment is one write of a peer.
type segment struct {
	server bool
	b      []byte
}

type segConn struct {
	net.Conn
	server bool
	mu     *sync.Mutex
	segs   *[]segment
}

func (c segConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	*c.segs = append(*c.segs, segment{c.server, bytes.Clone(b)})
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func cert(t testing.TB, rsaKey bool) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "chat.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"chat.example.com"}}
	var pub, priv any
	if rsaKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pub, priv = &k.PublicKey, k
	} else {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pub, priv = &k.PublicKey, k
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}
}

// session runs a real crypto/tls connection: the client sends msgs[i] and
// the server answers each in upper case. It returns every write of both
// peers in order, and appends the key log to keylog.
func session(t testing.TB, cli, srv *tls.Config, keylog io.Writer, msgs []string) []segment {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback TCP: %v", err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var segs []segment
	cli = cli.Clone()
	cli.KeyLogWriter = keylog
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		sc := tls.Server(segConn{c, true, &mu, &segs}, srv)
		buf := make([]byte, 1<<16)
		for n := 0; n < total; {
			k, err := sc.Read(buf)
			if err != nil {
				done <- err
				return
			}
			n += k
			if _, err := sc.Write(bytes.ToUpper(buf[:k])); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cc := tls.Client(segConn{c, false, &mu, &segs}, cli)
	go func() {
		for _, m := range msgs {
			if _, err := cc.Write([]byte(m)); err != nil {
				return
			}
		}
	}()
	if _, err := io.ReadFull(cc, make([]byte, total)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(segs)
}

// collector is a Handler that keeps what a Session decrypted.
type collector struct {
	data     [2]bytes.Buffer
	lost     [2]int64
	problems []string
}

func (c *collector) AppData(server bool, b []byte) { c.data[dirIndex(server)].Write(b) }
func (c *collector) Lost(server bool, n int64)     { c.lost[dirIndex(server)] += n }
func (c *collector) Problem(server bool, p Problem, detail string) {
	c.problems = append(c.problems, fmt.Sprintf("%d %s", p, detail))
}

func feed(s *Session, segs []segment, chunk int) {
	for _, sg := range segs {
		for i := 0; i < len(sg.b); i += chunk {
			s.Feed(sg.server, sg.b[i:min(len(sg.b), i+chunk)])
		}
	}
}

var testMsgs = []string{"GET /chat HTTP/1.1\r\nHost: chat.example.com\r\nUpgrade: websocket\r\n\r\n", strings.Repeat("x", 20000), "\x81\x05hello", "bye"}

// TestSessionDecrypts: what real crypto/tls peers sent is what a Session
// decrypts, for TLS 1.3 and every TLS 1.2 AEAD suite, in any chunking.
func TestSessionDecrypts(t *testing.T) {
	ec, rs := cert(t, false), cert(t, true)
	for _, tc := range []struct {
		name  string
		max   uint16
		suite uint16
		rsa   bool
	}{
		{"TLS 1.3", tls.VersionTLS13, 0, false},
		{"ECDHE_ECDSA_AES_128_GCM", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, false},
		{"ECDHE_ECDSA_AES_256_GCM_SHA384", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, false},
		{"ECDHE_ECDSA_CHACHA20", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, false},
		{"ECDHE_RSA_AES_128_GCM", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, true},
		{"ECDHE_RSA_AES_256_GCM_SHA384", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, true},
		{"ECDHE_RSA_CHACHA20", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, true},
		// CBC suites, MAC-then-encrypt (Go does not do encrypt_then_mac;
		// TestOpenSSLCBC has it).
		{"ECDHE_ECDSA_AES_128_CBC_SHA", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, false},
		{"ECDHE_ECDSA_AES_256_CBC_SHA", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, false},
		{"ECDHE_ECDSA_AES_128_CBC_SHA256", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, false},
		{"ECDHE_RSA_AES_128_CBC_SHA", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, true},
		{"ECDHE_RSA_AES_256_CBC_SHA", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, true},
		{"ECDHE_RSA_AES_128_CBC_SHA256", tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crt := ec
			if tc.rsa {
				crt = rs
			}
			srv := &tls.Config{Certificates: []tls.Certificate{crt}, MaxVersion: tc.max}
			cli := &tls.Config{InsecureSkipVerify: true, ServerName: "chat.example.com", MaxVersion: tc.max, NextProtos: []string{"http/1.1"}}
			if tc.suite != 0 {
				srv.CipherSuites, cli.CipherSuites = []uint16{tc.suite}, []uint16{tc.suite}
			}
			var kl bytes.Buffer
			segs := session(t, cli, srv, &kl, testMsgs)
			keys := NewKeyLog()
			if n, bad, err := keys.Read(&kl); n == 0 || len(bad) > 0 || err != nil {
				t.Fatalf("key log: %d secrets, %v, %v", n, bad, err)
			}
			wantC, wantS := strings.Join(testMsgs, ""), strings.ToUpper(strings.Join(testMsgs, ""))
			for _, chunk := range []int{1, 3, 1000, 1 << 20} {
				var c collector
				s := NewSession(keys, &c)
				feed(s, segs, chunk)
				if c.data[0].String() != wantC || c.data[1].String() != wantS || !s.Decrypting || len(c.problems) > 0 {
					t.Fatalf("chunks of %d: client %d bytes, server %d (want %d each), problems %v", chunk, c.data[0].Len(), c.data[1].Len(), len(wantC), c.problems)
				}
				if tc.suite != 0 && s.Hello.CipherSuite != tc.suite || s.Hello.ServerName != "chat.example.com" {
					t.Fatalf("hello %+v", s.Hello)
				}
			}
		})
	}
}

// TestSessionFailures: no key, a flipped byte, a lost segment: each named,
// and decryption goes on where it can.
func TestSessionFailures(t *testing.T) {
	ec := cert(t, false)
	for _, max := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		srv := &tls.Config{Certificates: []tls.Certificate{ec}, MaxVersion: max}
		cli := &tls.Config{InsecureSkipVerify: true, ServerName: "chat.example.com", MaxVersion: max}
		var kl bytes.Buffer
		msgs := []string{"one", "two", "three", "four"}
		segs := session(t, cli, srv, &kl, msgs)
		keys := NewKeyLog()
		keys.Read(bytes.NewReader(kl.Bytes()))

		var none collector
		s := NewSession(NewKeyLog(), &none)
		feed(s, segs, 1<<20)
		if len(none.problems) != 1 || !strings.Contains(none.problems[0], "no secret in the key log for client random") || none.data[0].Len() > 0 {
			t.Errorf("%x without keys: %v", max, none.problems)
		}

		// The client's segment carrying "two": flip a byte of it.
		last := -1
		for i, sg := range segs {
			if !sg.server {
				last = i
			}
		}
		idx := -1
		n := 0
		for i, sg := range segs {
			if !sg.server && sg.b[0] == byte(ApplicationData) {
				n++
				if n == len(msgs)-2 { // "two" is the second to last but one application record of the client
					idx = i
				}
			}
		}
		_ = last
		if idx < 0 {
			t.Fatalf("no client application record")
		}
		flipped := make([]segment, len(segs))
		copy(flipped, segs)
		flipped[idx] = segment{false, bytes.Clone(segs[idx].b)}
		flipped[idx].b[len(flipped[idx].b)-3] ^= 1
		var c collector
		s = NewSession(keys, &c)
		feed(s, flipped, 1<<20)
		if len(c.problems) != 1 || !strings.Contains(c.problems[0], "does not authenticate") || c.data[0].Len() == 0 {
			t.Errorf("%x flipped: %v, client %q", max, c.problems, c.data[0].String())
		}
		// The same segment lost: a gap, then the next records decrypt.
		var g collector
		s = NewSession(keys, &g)
		for i, sg := range segs {
			if i == idx {
				s.Gap(false, int64(len(sg.b)))
				continue
			}
			s.Feed(sg.server, sg.b)
		}
		if g.lost[0] == 0 || !strings.HasSuffix(g.data[0].String(), msgs[len(msgs)-1]) {
			t.Errorf("%x lost: %v, client %q", max, g.problems, g.data[0].String())
		}
		// The same segment's header seen, then the rest of it lost in two
		// gaps: the second falls inside what is left of the record the
		// first one cut, which is no reason to look for a record header
		// in the next segment.
		var g2 collector
		s = NewSession(keys, &g2)
		for i, sg := range segs {
			if i == idx {
				s.Feed(false, sg.b[:10])
				s.Gap(false, 3)
				s.Gap(false, int64(len(sg.b)-13))
				continue
			}
			s.Feed(sg.server, sg.b)
		}
		if g2.data[0].String() != g.data[0].String() {
			t.Errorf("%x lost in two gaps: client %q, want %q", max, g2.data[0].String(), g.data[0].String())
		}
	}
}

// TestResumption: a TLS 1.3 PSK resumption decrypts with the key log
// lines of its own client random; a TLS 1.2 ticket resumption, for which
// Go logs no line, is named as such.
func TestResumption(t *testing.T) {
	ec := cert(t, false)
	for _, max := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		srv := &tls.Config{Certificates: []tls.Certificate{ec}, MaxVersion: max}
		cli := &tls.Config{InsecureSkipVerify: true, ServerName: "chat.example.com", MaxVersion: max, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
		var kl bytes.Buffer
		first := session(t, cli, srv, &kl, []string{"first"})
		segs := session(t, cli, srv, &kl, []string{"again"})
		log := bytes.Clone(kl.Bytes())
		keys := NewKeyLog()
		keys.Read(&kl)
		if max == tls.VersionTLS12 {
			// Go logs no line for the resumed connection: without the
			// full handshake decoded before it, nothing to decrypt with.
			var c collector
			s := NewSession(keys, &c)
			feed(s, segs, 7)
			s.Close()
			if !s.Resumed || len(c.problems) != 1 || !strings.Contains(c.problems[0], "resumes an earlier TLS 1.2 session") {
				t.Errorf("TLS 1.2 resumed alone: %v", c.problems)
			}
			// With the full handshake decoded in an earlier round, its
			// master secret is carried over by the ticket; in the same
			// round it is not (it could be on another shard, not yet).
			for _, tc := range []struct {
				rounds   Rounds
				resumeAt uint64
				want     bool
			}{{Rounds{Lag: 2}, 2, true}, {Rounds{Lag: 2}, 1, false}, {Rounds{Lag: 1}, 0, false}, {Rounds{Lag: 1}, 1, true}} {
				keys := NewKeyLog()
				keys.Read(bytes.NewReader(log))
				r := tc.rounds
				var c0, c collector
				s0 := NewSession(keys, &c0)
				s0.Rounds = &r
				feed(s0, first, 1000)
				r.Now = tc.resumeAt
				s := NewSession(keys, &c)
				s.Rounds = &r
				feed(s, segs, 7)
				s.Close()
				got := c.data[0].String() == "again" && c.data[1].String() == "AGAIN" && s.ResumedBy() == "session ticket"
				if got != tc.want || !s.Resumed || tc.want && len(c.problems) > 0 {
					t.Errorf("lag %d, resumed in round %d: decrypted %v (%q %q by %q), want %v; %v", tc.rounds.Lag, tc.resumeAt, got, c.data[0].String(), c.data[1].String(), s.ResumedBy(), tc.want, c.problems)
				}
			}
			continue
		}
		var c collector
		s := NewSession(keys, &c)
		feed(s, segs, 7)
		if c.data[0].String() != "again" || c.data[1].String() != "AGAIN" {
			t.Errorf("%x resumed: %q %q %v", max, c.data[0].String(), c.data[1].String(), c.problems)
		}
	}
}

// TestKeyLog: the labels, comments, blank and malformed lines.
func TestKeyLog(t *testing.T) {
	cr := strings.Repeat("ab", 32)
	in := "# a comment\r\n\r\nCLIENT_RANDOM " + cr + " " + strings.Repeat("01", 48) + "\r\n" +
		"CLIENT_HANDSHAKE_TRAFFIC_SECRET " + cr + " " + strings.Repeat("02", 32) + "\n" +
		"SERVER_TRAFFIC_SECRET_0 " + cr + " " + strings.Repeat("03", 48) + "\n" +
		"EXPORTER_SECRET " + cr + " " + strings.Repeat("04", 32) + "\n" +
		"CLIENT_RANDOM zz " + strings.Repeat("01", 48) + "\n" +
		"CLIENT_RANDOM " + cr + " 0102\n" +
		"BOGUS_LABEL " + cr + " 01\n" +
		"CLIENT_RANDOM " + cr + "\n"
	k := NewKeyLog()
	n, bad, err := k.Read(strings.NewReader(in))
	if err != nil || n != 3 || len(bad) != 4 {
		t.Fatalf("%d secrets, bad %v, %v", n, bad, err)
	}
	for i, line := range []int{7, 8, 9, 10} {
		if bad[i].Line != line {
			t.Errorf("bad line %d reported as %d: %v", line, bad[i].Line, bad[i])
		}
	}
	sec := k.Lookup(bytes.Repeat([]byte{0xab}, 32))
	if sec == nil || len(sec.Master) != 48 || len(sec.ClientHandshake) != 32 || len(sec.ServerTraffic) != 48 {
		t.Fatalf("secrets %+v", sec)
	}
}

// TestHKDFExpandLabel checks the key schedule against RFC 8448 §3: the
// server handshake traffic secret's key and IV.
func TestHKDFExpandLabel(t *testing.T) {
	secret := unhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
	s := suites[0x1301]
	if got := hkdfExpandLabel(s.hash, secret, "key", nil, 16); !bytes.Equal(got, unhex("3fce516009c21727d0f2e4e86ee403bc")) {
		t.Errorf("key %x", got)
	}
	if got := hkdfExpandLabel(s.hash, secret, "iv", nil, 12); !bytes.Equal(got, unhex("5d313eb2671276ee13000b30")) {
		t.Errorf("iv %x", got)
	}
}

// TestPRF12 checks the TLS 1.2 PRF against a known SHA-256 vector (the
// one of the IETF TLS list, also used by Go's crypto/tls tests).
func TestPRF12(t *testing.T) {
	secret := unhex("9bbe436ba940f017b17652849a71db35")
	seed := unhex("a0ba9f936cda311827a6f796ffd5198c")
	want := unhex("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66")
	if got := prf12(suites[0xc02f].hash, secret, "test label", seed, len(want)); !bytes.Equal(got, want) {
		t.Errorf("PRF\n got %x\nwant %x", got, want)
	}
}

func unhex(s string) []byte {
	var b []byte
	for i := 0; i+1 < len(s); i += 2 {
		var v byte
		fmt.Sscanf(s[i:i+2], "%02x", &v)
		b = append(b, v)
	}
	return b
}

// FuzzSession feeds mutated real TLS 1.3 and 1.2 traffic, with the keys
// of the real one, to a Session: no panic, nothing decrypted that is
// longer than the input, and whatever the chunking the same result.
func FuzzSession(f *testing.F) {
	ec := cert(f, false)
	type flow struct{ cli, srv []byte }
	keys := NewKeyLog()
	for _, max := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		var kl bytes.Buffer
		segs := session(f, &tls.Config{InsecureSkipVerify: true, MaxVersion: max}, &tls.Config{Certificates: []tls.Certificate{ec}, MaxVersion: max}, &kl, []string{"GET / HTTP/1.1\r\n\r\n", "\x81\x02hi"})
		keys.Read(&kl)
		var fl flow
		for _, sg := range segs {
			if sg.server {
				fl.srv = append(fl.srv, sg.b...)
			} else {
				fl.cli = append(fl.cli, sg.b...)
			}
		}
		f.Add(fl.cli, fl.srv, uint16(500))
	}
	f.Fuzz(func(t *testing.T, cli, srv []byte, split uint16) {
		run := func(step int) collector {
			var c collector
			s := NewSession(keys, &c)
			// The client's first flight, the server's, then the rest.
			k := min(len(cli), int(split))
			for i := 0; i < k; i += step {
				s.Feed(false, cli[i:min(k, i+step)])
			}
			for i := 0; i < len(srv); i += step {
				s.Feed(true, srv[i:min(len(srv), i+step)])
			}
			for i := k; i < len(cli); i += step {
				s.Feed(false, cli[i:min(len(cli), i+step)])
			}
			return c
		}
		a, b := run(1<<20), run(7)
		if a.data[0].Len() > len(cli) || a.data[1].Len() > len(srv) {
			t.Fatalf("decrypted more than was fed")
		}
		// The same bytes as a connection picked up after its handshake:
		// the key log's traffic secrets are tried, within the budget (for
		// one input in 16: the trials are slow, by design).
		if split%16 != 0 {
			return
		}
		var c collector
		var trials int64
		s := NewSession(keys, &c)
		s.StartMidstream(&trials)
		s.Feed(false, cli)
		s.Feed(true, srv)
		if c.data[0].Len() > len(cli) || c.data[1].Len() > len(srv) || trials > MaxMidstreamTrials+4*maxMidstreamSeq*int64(keys.Len()) {
			t.Fatalf("mid-stream: %d and %d bytes decrypted of %d and %d, %d trials", c.data[0].Len(), c.data[1].Len(), len(cli), len(srv), trials)
		}
		if a.data[0].String() != b.data[0].String() || a.data[1].String() != b.data[1].String() {
			t.Fatalf("chunking changed the plaintext")
		}
	})
}

func FuzzKeyLog(f *testing.F) {
	f.Add([]byte("CLIENT_RANDOM " + strings.Repeat("ab", 32) + " " + strings.Repeat("01", 48) + "\n# comment\nSERVER_TRAFFIC_SECRET_0 " + strings.Repeat("ab", 32) + " " + strings.Repeat("02", 32) + "\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k := NewKeyLog()
		n, bad, err := k.Read(bytes.NewReader(b))
		if err != nil || n < 0 || k.Len() > n || len(bad) > bytes.Count(b, []byte{'\n'})+1 {
			t.Fatalf("%d secrets, %d bad lines, %v, %d held", n, len(bad), err, k.Len())
		}
	})
}

// TestWriteUsed: the secrets of the connections looked up, and only those,
// written back in the key log format.
func TestWriteUsed(t *testing.T) {
	a, b := strings.Repeat("aa", 32), strings.Repeat("bb", 32)
	k := NewKeyLog()
	k.Read(strings.NewReader("CLIENT_RANDOM " + a + " " + strings.Repeat("01", 48) + "\nCLIENT_TRAFFIC_SECRET_0 " + b + " " + strings.Repeat("02", 32) + "\n"))
	k.Lookup(bytes.Repeat([]byte{0xbb}, 32))
	var out bytes.Buffer
	if err := k.WriteUsed(&out); err != nil || out.String() != "CLIENT_TRAFFIC_SECRET_0 "+b+" "+strings.Repeat("02", 32)+"\n" {
		t.Errorf("%q, %v", out.String(), err)
	}
}

// TestSessionWait: with Wait, a session whose secrets come into the key
// log only later (a browser appends them while the capture runs) holds
// its records and decrypts them all once the line is there; at Close, a
// line that never came is reported.
func TestSessionWait(t *testing.T) {
	ec := cert(t, false)
	for _, max := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		var kl bytes.Buffer
		segs := session(t, &tls.Config{InsecureSkipVerify: true, MaxVersion: max}, &tls.Config{Certificates: []tls.Certificate{ec}, MaxVersion: max}, &kl, []string{"GET / HTTP/1.1\r\n\r\n", "more"})
		keys := NewKeyLog()
		var c collector
		s := NewSession(keys, &c)
		s.Wait = true
		half := len(segs) / 2
		feed(s, segs[:half], 1<<20)
		keys.Read(bytes.NewReader(kl.Bytes())) // the key log grows
		feed(s, segs[half:], 1<<20)
		if c.data[0].String() != "GET / HTTP/1.1\r\n\r\nmore" || len(c.problems) != 0 {
			t.Errorf("%x: client %q, problems %v", max, c.data[0].String(), c.problems)
		}
		var never collector
		s = NewSession(NewKeyLog(), &never)
		s.Wait = true
		feed(s, segs, 1<<20)
		if len(never.problems) != 0 {
			t.Errorf("%x: a problem before Close: %v", max, never.problems)
		}
		s.Close()
		if len(never.problems) != 1 || !strings.Contains(never.problems[0], "no secret") {
			t.Errorf("%x: at Close %v", max, never.problems)
		}
	}
}
