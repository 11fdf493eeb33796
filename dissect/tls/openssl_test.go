package tls

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// opensslRun runs OpenSSL's s_client against s_server through a recording
// proxy, with the extra arguments of each, writing lines to s_client one
// by one. It returns what each side wrote, s_client's output and the key
// log s_client wrote; it skips the test without openssl.
func opensslRun(t *testing.T, srvArgs, cliArgs, lines []string) ([]segment, string, *KeyLog) {
	t.Helper()
	return opensslRunWith(t, opensslOpts{srv: append([]string{"-rev", "-naccept", "1"}, srvArgs...), cli: cliArgs, lines: lines})
}

// opensslOpts: the arguments of s_server and of the recorded s_client,
// the lines written to it, and what runs between the two (before: given
// the openssl binary, the working directory and the server's port).
type opensslOpts struct {
	srv, cli []string
	lines    []string
	before   func(openssl, dir string, port int)
}

func opensslRunWith(t *testing.T, o opensslOpts) ([]segment, string, *KeyLog) {
	t.Helper()
	srvArgs, cliArgs, lines := o.srv, o.cli, o.lines
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed (apt-get install openssl)")
	}
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kder, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(filepath.Join(dir, "c.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "k.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	srv := exec.Command(openssl, append([]string{"s_server", "-accept", fmt.Sprintf("127.0.0.1:%d", port), "-cert", "c.pem", "-key", "k.pem"}, srvArgs...)...)
	srv.Dir = dir
	srv.Stdout, srv.Stderr = io.Discard, io.Discard
	srvIn, srvInW := io.Pipe() // open until the end: s_server ends a connection at the end of its input
	defer srvInW.Close()
	srv.Stdin = srvIn
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	if o.before != nil {
		time.Sleep(300 * time.Millisecond) // s_server listening
		o.before(openssl, dir, port)
	}
	// The proxy records what each side wrote.
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	var mu sync.Mutex
	var segs []segment
	go func() {
		c, err := pl.Accept()
		if err != nil {
			return
		}
		var s net.Conn
		for range 50 {
			if s, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if s == nil {
			c.Close()
			return
		}
		pipe := func(dst, src net.Conn, server bool) {
			buf := make([]byte, 1<<16)
			for {
				n, err := src.Read(buf)
				if n > 0 {
					mu.Lock()
					segs = append(segs, segment{server, bytes.Clone(buf[:n])})
					mu.Unlock()
					dst.Write(buf[:n])
				}
				if err != nil {
					dst.Close()
					return
				}
			}
		}
		go pipe(s, c, false)
		pipe(c, s, true)
	}()
	time.Sleep(300 * time.Millisecond) // s_server listening

	stdinR, stdinW := io.Pipe()
	cli := exec.Command(openssl, append([]string{"s_client", "-connect", pl.Addr().String(), "-keylogfile", "keys.log", "-servername", "localhost"}, cliArgs...)...)
	cli.Dir = dir
	cli.Stdin = stdinR
	var cout bytes.Buffer
	cli.Stdout, cli.Stderr = &cout, &cout
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(stdinW, l+"\n")
	}
	time.Sleep(500 * time.Millisecond)
	stdinW.Close()
	done := make(chan error, 1)
	go func() { done <- cli.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cli.Process.Kill()
	}
	kl := NewKeyLog()
	f, err := os.Open(filepath.Join(dir, "keys.log"))
	if err != nil {
		t.Fatalf("no key log: %v\n%s", err, cout.String())
	}
	kl.Read(f)
	f.Close()
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(segs), cout.String(), kl
}

// TestOpenSSLKeyUpdate runs OpenSSL's s_client against s_server (TLS 1.3)
// through a recording proxy; s_client's "K" command sends a KeyUpdate and
// asks for one back, so both directions change keys mid-stream. Every line
// sent, before and after, is decrypted with the key log s_client wrote.
func TestOpenSSLKeyUpdate(t *testing.T) {
	lines := []string{"before the update", "K", "after the update", "K", "after the second update"}
	recorded, out, kl := opensslRun(t, []string{"-tls1_3"}, []string{"-tls1_3"}, lines)
	if !strings.Contains(out, "KEYUPDATE") {
		t.Skipf("this openssl s_client did not send a KeyUpdate:\n%s", out)
	}
	var c collector
	s := NewSession(kl, &c)
	feed(s, recorded, 1<<20)
	for _, l := range lines {
		if l == "K" {
			continue
		}
		if !strings.Contains(c.data[0].String(), l) {
			t.Errorf("client data %q lacks %q; problems %v", c.data[0].String(), l, c.problems)
		}
	}
	// -rev answers each line reversed; the answer after the first "K"
	// comes after the server's own KeyUpdate.
	if !strings.Contains(c.data[1].String(), "etadpu eht retfa") {
		t.Errorf("server data %q; problems %v", c.data[1].String(), c.problems)
	}
	if len(c.problems) > 0 {
		t.Errorf("problems %v", c.problems)
	}
}

// TestOpenSSLCBC: a TLS 1.2 AES-CBC connection between OpenSSL's s_client
// and s_server, which negotiate encrypt_then_mac (RFC 7366) by default,
// decrypts; so does one where the client does not offer it.
func TestOpenSSLCBC(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cipher string
		noEtM  bool
	}{
		{"encrypt-then-MAC, SHA1", "ECDHE-ECDSA-AES128-SHA", false},
		{"encrypt-then-MAC, SHA384", "ECDHE-ECDSA-AES256-SHA384", false},
		{"MAC-then-encrypt", "ECDHE-ECDSA-AES256-SHA", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cli := []string{"-tls1_2", "-cipher", tc.cipher}
			if tc.noEtM {
				cli = append(cli, "-no_etm")
			}
			lines := []string{"hello over CBC", "and again"}
			recorded, out, kl := opensslRun(t, []string{"-tls1_2", "-cipher", tc.cipher}, cli, lines)
			var c collector
			s := NewSession(kl, &c)
			feed(s, recorded, 1<<20)
			if s.Hello.EncryptThenMAC == tc.noEtM || !suites[s.Hello.CipherSuite].cbc {
				t.Fatalf("suite %s, encrypt_then_mac %v\n%s", CipherSuiteName(s.Hello.CipherSuite), s.Hello.EncryptThenMAC, out)
			}
			for _, l := range lines {
				if !strings.Contains(c.data[0].String(), l) {
					t.Errorf("client data %q lacks %q; problems %v", c.data[0].String(), l, c.problems)
				}
			}
			if !strings.Contains(c.data[1].String(), "CBC revo olleh") || len(c.problems) > 0 {
				t.Errorf("server data %q; problems %v", c.data[1].String(), c.problems)
			}
		})
	}
}

// earlyData and earlyLines are what the 0-RTT tests' client sends: early,
// then after the handshake.
const earlyText = "GET /early HTTP/1.1\r\nHost: localhost\r\n\r\n"

var earlyLines = []string{"after the handshake"}

// earlyRun records s_client resuming a TLS 1.3 session with 0-RTT data,
// against an s_server that takes it (accept) or not (its replay
// protection refuses a ticket's second use: a connection that is not
// recorded uses it first); it skips unless s_client says want.
func earlyRun(t *testing.T, accept bool, want string) ([]segment, *KeyLog) {
	t.Helper()
	srv := []string{"-tls1_3", "-early_data", "-naccept", "2"}
	if !accept {
		srv[3] = "3"
	}
	var out0 string
	recorded, out, kl := opensslRunWith(t, opensslOpts{
		srv:   srv,
		cli:   []string{"-tls1_3", "-sess_in", "sess.pem", "-early_data", "early.txt"},
		lines: earlyLines,
		before: func(openssl, dir string, port int) {
			os.WriteFile(filepath.Join(dir, "early.txt"), []byte(earlyText), 0o600)
			// A first connection, not recorded, for the session ticket.
			first := exec.Command(openssl, "s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port), "-tls1_3", "-sess_out", "sess.pem")
			first.Dir = dir
			in, _ := first.StdinPipe()
			var b bytes.Buffer
			first.Stdout, first.Stderr = &b, &b
			first.Start()
			io.WriteString(in, "first\n")
			time.Sleep(500 * time.Millisecond)
			in.Close()
			first.Wait()
			out0 = b.String()
			if !accept {
				second := exec.Command(openssl, "s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port), "-tls1_3", "-sess_in", "sess.pem", "-early_data", "early.txt")
				second.Dir = dir
				in, _ := second.StdinPipe()
				second.Stdout, second.Stderr = io.Discard, io.Discard
				second.Start()
				time.Sleep(500 * time.Millisecond)
				in.Close()
				second.Wait()
			}
		},
	})
	if !strings.Contains(out, want) {
		t.Skipf("s_client did not say %q:\n%s\n%s", want, out0, out)
	}
	return recorded, kl
}

// TestOpenSSLEarlyData: s_client resumes a TLS 1.3 session with 0-RTT
// early data (-early_data), which s_server accepts; the early data is
// decrypted with CLIENT_EARLY_TRAFFIC_SECRET and comes first in the
// client's stream; without that line it is reported lost, not garbage.
func TestOpenSSLEarlyData(t *testing.T) {
	recorded, kl := earlyRun(t, true, "Early data was accepted")
	early, lines := earlyText, earlyLines
	var c collector
	s := NewSession(kl, &c)
	feed(s, recorded, 1<<20)
	if got := c.data[0].String(); !strings.HasPrefix(got, early) || !strings.Contains(got, lines[0]) || len(c.problems) > 0 {
		t.Errorf("client data %q; problems %v", got, c.problems)
	}

	// Without the early secret: the early data is reported lost, the rest
	// decrypts.
	var used, kept bytes.Buffer
	kl.WriteUsed(&used)
	for _, l := range strings.SplitAfter(used.String(), "\n") {
		if !strings.HasPrefix(l, "CLIENT_EARLY_TRAFFIC_SECRET") {
			kept.WriteString(l)
		}
	}
	kl2 := NewKeyLog()
	kl2.Read(&kept)
	var c2 collector
	s2 := NewSession(kl2, &c2)
	feed(s2, recorded, 1<<20)
	if got := c2.data[0].String(); !strings.Contains(got, lines[0]) || strings.Contains(got, "GET") || c2.lost[0] == 0 ||
		len(c2.problems) != 1 || !strings.Contains(c2.problems[0], "CLIENT_EARLY_TRAFFIC_SECRET") {
		t.Errorf("without the early secret: client data %q, %d lost, problems %v", got, c2.lost[0], c2.problems)
	}
}

// TestOpenSSLEarlyDataRejected: 0-RTT data that s_server does not take is
// not part of the client's stream, and is reported as refused.
func TestOpenSSLEarlyDataRejected(t *testing.T) {
	recorded, kl := earlyRun(t, false, "Early data was rejected")
	var c collector
	s := NewSession(kl, &c)
	feed(s, recorded, 1<<20)
	if got := c.data[0].String(); strings.Contains(got, "GET") || !strings.Contains(got, earlyLines[0]) || len(c.problems) != 1 || !strings.Contains(c.problems[0], "refused the client's 0-RTT early data") || c.lost[0] != 0 {
		t.Errorf("client data %q, %d lost; problems %v", got, c.lost[0], c.problems)
	}
}
