// tlsconns runs a crypto/tls server and a crypto/tls client in one process,
// talking over real loopback TCP. Each client connection does a full TLS 1.3
// handshake (no session resumption), exchanges a few short line-framed
// messages in both directions and closes. The client's TLS secrets are
// written in NSS key log format to -keylog.
package main

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:14431", "listen/dial address")
	n := flag.Int("n", 60, "number of client connections")
	msgs := flag.Int("msgs", 2, "messages the client sends per connection")
	delay := flag.Duration("delay", 0, "pause between connections")
	certFile := flag.String("cert", "cert.pem", "server certificate")
	keyFile := flag.String("key", "key.pem", "server key")
	keylog := flag.String("keylog", "", "client key log file (NSS format)")
	flag.Parse()

	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		log.Fatal(err)
	}
	srvCfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{"demo/1"},
	}
	ln, err := tls.Listen("tcp", *addr, srvCfg)
	if err != nil {
		log.Fatal(err)
	}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); serve(c) }()
		}
	}()

	var kl io.Writer
	if *keylog != "" {
		f, err := os.Create(*keylog)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		kl = f
	}
	cliCfg := &tls.Config{
		ServerName:         "localhost",
		InsecureSkipVerify: true, // self-signed test certificate
		MinVersion:         tls.VersionTLS13,
		NextProtos:         []string{"demo/1"},
		KeyLogWriter:       kl,
	}
	var state tls.ConnectionState
	for i := 0; i < *n; i++ {
		st, err := client(*addr, cliCfg, i, *msgs)
		if err != nil {
			log.Fatalf("conn %d: %v", i, err)
		}
		state = st
		if *delay > 0 {
			time.Sleep(*delay)
		}
	}
	ln.Close()
	wg.Wait()
	fmt.Printf("%s: %d TLS connections, version=%s cipher=%s curve=%v alpn=%q sni=localhost\n",
		runtime.Version(), *n, tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite),
		state.CurveID, state.NegotiatedProtocol)
}

func serve(c net.Conn) {
	defer c.Close()
	if _, err := fmt.Fprintf(c, "hello from server\n"); err != nil {
		log.Print(err)
		return
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return // EOF after the client's close_notify
		}
		if _, err := fmt.Fprintf(c, "echo: %s", line); err != nil {
			return
		}
	}
}

func client(addr string, cfg *tls.Config, i, msgs int) (tls.ConnectionState, error) {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		return tls.ConnectionState{}, err
	}
	for j := 0; j < msgs; j++ {
		if _, err := fmt.Fprintf(c, "client %d message %d\n", i, j); err != nil {
			return tls.ConnectionState{}, err
		}
		if _, err := r.ReadString('\n'); err != nil {
			return tls.ConnectionState{}, err
		}
	}
	st := c.ConnectionState()
	// Close sends close_notify; then wait for the server's close so that the
	// server side FIN is in the capture before the next connection starts.
	if err := c.CloseWrite(); err != nil {
		return st, err
	}
	io.Copy(io.Discard, c)
	return st, nil
}
