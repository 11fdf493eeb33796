package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wscap/wscap/internal/gen"
)

// recConn records every write of one peer, in order with the other's.
type recConn struct {
	net.Conn
	dir  gen.Direction
	mu   *sync.Mutex
	segs *[]recSeg
}

type recSeg struct {
	dir gen.Direction
	b   []byte
}

func (c recConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	*c.segs = append(*c.segs, recSeg{c.dir, bytes.Clone(b)})
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// wssExchange runs a real crypto/tls client and server over a pipe: an
// upgrade, a text message each way, a close each way. It returns every
// write of both peers in order.
func wssExchange(t *testing.T, cli, srv *tls.Config, text string) []recSeg {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var segs []recSeg
	done := make(chan error, 1)
	go func() {
		b, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer b.Close()
		s := tls.Server(recConn{b, gen.FromServer, &mu, &segs}, srv)
		defer s.Close()
		r := bufio.NewReader(s)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				done <- err
				return
			}
			if line == "\r\n" {
				break
			}
		}
		s.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"))
		s.Write(wsBytes(1, []byte(strings.ToUpper(text)), false))
		buf := make([]byte, 4096)
		n, err := r.Read(buf) // the client's frame
		_ = n
		s.Write(wsBytes(8, []byte{3, 232}, false))
		done <- err
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c := tls.Client(recConn{a, gen.FromClient, &mu, &segs}, cli)
	fmt.Fprintf(c, "GET /chat HTTP/1.1\r\nHost: chat.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	head := make([]byte, 2)
	if _, err := r.Read(head); err != nil {
		t.Fatal(err)
	}
	rest := make([]byte, int(head[1]))
	r.Read(rest)
	c.Write(wsBytes(1, []byte(text), true))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	closeFrame := make([]byte, 4)
	r.Read(closeFrame)
	c.Write(wsBytes(8, []byte{3, 232}, true))
	c.Close()
	time.Sleep(20 * time.Millisecond) // the server's close_notify
	mu.Lock()
	defer mu.Unlock()
	return segs
}

// TestTLS12Resumption: Go's crypto/tls logs no key line for a resumed TLS
// 1.2 connection; its master secret is carried over from the full
// handshake (by session ticket), and the output is the same for any
// number of workers. Connections are far enough apart in the capture
// (rounds of input) for the carry-over to be decided the same way.
func TestTLS12Resumption(t *testing.T) {
	crt, err := selfSigned()
	if err != nil {
		t.Fatal(err)
	}
	var kl bytes.Buffer
	srv := &tls.Config{Certificates: []tls.Certificate{crt}, MaxVersion: tls.VersionTLS12}
	cli := &tls.Config{InsecureSkipVerify: true, ServerName: "chat.example.com", MaxVersion: tls.VersionTLS12,
		ClientSessionCache: tls.NewLRUClientSessionCache(4), KeyLogWriter: &kl}
	texts := []string{"full handshake", "resumed once", "resumed twice"}
	var exchanges [][]recSeg
	for _, text := range texts {
		exchanges = append(exchanges, wssExchange(t, cli, srv, text))
	}
	if n := strings.Count(kl.String(), "CLIENT_RANDOM"); n != 1 {
		t.Fatalf("the key log has %d lines; Go logs one, for the full handshake", n)
	}
	c := gen.New(gen.Options{Seed: 7})
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, ex := range exchanges {
		conn := c.Conn(gen.ConnOptions{Start: start.Add(time.Duration(i) * time.Second)})
		for _, sg := range ex {
			conn.Raw(sg.dir, sg.b)
		}
		conn.Teardown()
		// 1 MiB of other TCP traffic between them: more than Depth
		// rounds of input (192 KiB each at most).
		filler := c.Conn(gen.ConnOptions{Start: start.Add(time.Duration(i)*time.Second + 500*time.Millisecond)})
		filler.Raw(gen.FromClient, bytes.Repeat([]byte("filler "), 150000))
		filler.Teardown()
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "resume.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	keys := filepath.Join(dir, "keys")
	os.WriteFile(keys, kl.Bytes(), 0o644)

	var first string
	for _, workers := range []string{"1", "2", "4"} {
		out, stderr, code := wscap(t, "read", "--format", "jsonl", "--keylog", keys, "--workers", workers, path)
		if code != exitOK {
			t.Fatalf("status %d: %s", code, stderr)
		}
		if first == "" {
			first = out
		} else if out != first {
			t.Fatalf("--workers %s gives other output than --workers 1", workers)
		}
	}
	var got []string
	resumed := 0
	for _, r := range records(t, first) {
		switch r["kind"] {
		case "message":
			if r["opcode"] == "text" {
				got = append(got, r["text"].(string))
			}
		case "handshake":
			if tl, _ := r["tls"].(map[string]any); tl["resumed"] == true && tl["decrypted"] == true {
				resumed++
			}
		case "finding":
			if r["code"] == "tls-no-key" {
				t.Errorf("finding: %v", r)
			}
		}
	}
	var want []string
	for _, text := range texts {
		want = append(want, strings.ToUpper(text), text)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") || resumed != 2 {
		t.Errorf("messages %q, %d resumed and decrypted; want %q, 2", got, resumed, want)
	}
}
