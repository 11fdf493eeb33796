package tls

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// recConn keeps what was written through a net.Conn.
type recConn struct {
	net.Conn
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (c recConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.buf.Write(b)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// handshake runs a real crypto/tls handshake over a pipe and returns the
// bytes each side sent.
func handshake(t testing.TB, max uint16, alpn []string, sni string) (client, server []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{sni}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	a, b := net.Pipe()
	var mu sync.Mutex
	var cb, sb bytes.Buffer
	srv := tls.Server(recConn{b, &mu, &sb}, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: alpn, MaxVersion: max})
	cli := tls.Client(recConn{a, &mu, &cb}, &tls.Config{InsecureSkipVerify: true, ServerName: sni, NextProtos: alpn, MaxVersion: max})
	done := make(chan error, 1)
	go func() { done <- srv.Handshake() }()
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	return cb.Bytes(), sb.Bytes()
}

// TestHellos: a Session without a key log reads what the hellos of real
// crypto/tls peers say, in any chunking, and is then done.
func TestHellos(t *testing.T) {
	for _, tc := range []struct {
		name    string
		max     uint16
		alpn    []string
		version uint16
		chosen  string
	}{
		{"TLS 1.3", tls.VersionTLS13, []string{"h2", "http/1.1"}, tls.VersionTLS13, ""},
		{"TLS 1.2", tls.VersionTLS12, []string{"http/1.1"}, tls.VersionTLS12, "http/1.1"},
		{"no ALPN", tls.VersionTLS12, nil, tls.VersionTLS12, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, sv := handshake(t, tc.max, tc.alpn, "chat.example.com")
			if !StartsHello(cl) || !StartsHello(sv) || !StartsHello(cl[:1]) || !StartsHello(cl[:6]) {
				t.Fatalf("StartsHello: false on % x / % x", cl[:8], sv[:8])
			}
			for _, chunk := range []int{1, 2, 5, 7, 100, len(cl) + len(sv)} {
				var c collector
				r := NewSession(nil, &c)
				for i := 0; i < len(cl); i += chunk {
					r.Feed(false, cl[i:min(len(cl), i+chunk)])
				}
				for i := 0; i < len(sv); i += chunk {
					r.Feed(true, sv[i:min(len(sv), i+chunk)])
				}
				h := r.Hello
				if !r.Done() || len(c.problems) > 0 || h.ServerName != "chat.example.com" || !slices.Equal(h.ALPN, tc.alpn) || h.Version != tc.version || h.CipherSuite == 0 || h.ALPNChosen != tc.chosen || !slices.Contains(h.Versions, tc.version) {
					t.Fatalf("chunks of %d: done %v problems %v hello %+v", chunk, r.Done(), c.problems, h)
				}
				if CipherSuiteName(h.CipherSuite) == "" || VersionName(h.Version) != map[uint16]string{tls.VersionTLS12: "TLS 1.2", tls.VersionTLS13: "TLS 1.3"}[tc.version] {
					t.Fatalf("names %q %q", CipherSuiteName(h.CipherSuite), VersionName(h.Version))
				}
			}
			// The records after the hellos chain from the start, and from
			// inside a record, to the end.
			if !RecordChain(sv) || !RecordChain(cl) {
				t.Errorf("RecordChain false on a real handshake")
			}
		})
	}
}

// TestNotTLS: the first bytes of other protocols are not taken for TLS.
func TestNotTLS(t *testing.T) {
	for _, b := range []string{
		"GET / HTTP/1.1\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "SSH-2.0-OpenSSH_9.2\r\n",
		"\x16\x03\x05\x00\x10\x01", // version 3.5
		"\x16\x03\x01\x00\x10\x0b", // a handshake that does not start with a hello
		"\x17\x03\x03\x00\x10",     // application data first
		"\x16\x03\x03\xff\xff\x01", // longer than any record
		"\x81\x05hello",
	} {
		if StartsHello([]byte(b)) {
			t.Errorf("StartsHello(%q) = true", b)
		}
	}
	for _, b := range []string{"\x00\x0a\x00\x17\x00\x01", "\x81\x05hello\x81\x02hi", "\x00\x01\x02\x00\x00\x00\x01\x02"} {
		if RecordChain([]byte(b)) {
			t.Errorf("RecordChain(%q) = true", b)
		}
	}
}

// TestHellosHostile: forged lengths and records are reported, never a
// panic or an unbounded buffer.
func TestHellosHostile(t *testing.T) {
	for _, b := range []string{
		"\x16\x03\x01\x00\x04\x01\xff\xff\xff",         // a hello of 16 MiB announced
		"\x16\x03\x01\x00\x06\x01\x00\x00\x02\x03\x03", // a ClientHello cut short
		"\x15\x03\x03\x00\x02\x02\x28",                 // an alert
		"\x16\x03\x01\x00\x04\x02\x00\x00\x00",         // a ServerHello from the client
	} {
		var c collector
		r := NewSession(nil, &c)
		r.Feed(false, []byte(b))
		if len(c.problems) != 1 {
			t.Errorf("%q: problems %v", b, c.problems)
		}
		if len(r.dirs[0].hs) > MaxHello {
			t.Errorf("%q: %d bytes held", b, len(r.dirs[0].hs))
		}
	}
}

// FuzzHellos: the hellos a Session reads are the same in one piece and in
// chunks.
func FuzzHellos(f *testing.F) {
	cl, sv := handshake(f, tls.VersionTLS13, []string{"h2"}, "a.example")
	f.Add(cl, sv, uint8(3))
	cl, sv = handshake(f, tls.VersionTLS12, nil, "b.example")
	f.Add(cl, sv, uint8(1))
	f.Fuzz(func(t *testing.T, cl, sv []byte, chunk uint8) {
		// Split invariance: the hello read is the same in one piece and in
		// chunks.
		var cw, cp collector
		whole, parts := NewSession(nil, &cw), NewSession(nil, &cp)
		whole.Feed(false, cl)
		whole.Feed(true, sv)
		step := int(chunk) + 1
		for i := 0; i < len(cl); i += step {
			parts.Feed(false, cl[i:min(len(cl), i+step)])
		}
		for i := 0; i < len(sv); i += step {
			parts.Feed(true, sv[i:min(len(sv), i+step)])
		}
		a, b := whole.Hello, parts.Hello
		if a.ServerName != b.ServerName || !slices.Equal(a.ALPN, b.ALPN) || a.Version != b.Version || a.CipherSuite != b.CipherSuite || whole.Done() != parts.Done() {
			t.Fatalf("whole %+v, in chunks of %d %+v", a, step, b)
		}
		RecordChain(cl)
		StartsHello(cl)
	})
}

// TestNames: the cached suite names are crypto/tls's for every id, and
// versions read as their names.
func TestNames(t *testing.T) {
	for id := range 1 << 16 {
		if got, want := CipherSuiteName(uint16(id)), tls.CipherSuiteName(uint16(id)); got != want {
			t.Fatalf("suite %#04x: %q, want %q", id, got, want)
		}
	}
	for v, want := range map[uint16]string{0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3", 0x7f1c: "0x7f1c"} {
		if got := VersionName(v); got != want {
			t.Errorf("version %#04x: %q, want %q", v, got, want)
		}
	}
}
