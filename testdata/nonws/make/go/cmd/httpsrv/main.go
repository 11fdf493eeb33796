// httpsrv is a small net/http server used for two captures:
//   - plain HTTP/1.1 (curl as client): /, /hello, /chunked, /post, /big
//   - HTTPS for headless chromium (-cert/-key): / is an HTML page with a
//     stylesheet, a script and an image as subresources. Go's server offers
//     ALPN h2 and http/1.1.
//
// -mss sets TCP_MAXSEG on the listening socket so that the MSS advertised in
// the SYN-ACK is like Ethernet's (loopback's own MTU is 65536, which would
// let any ClientHello fit in one segment).
// It serves until SIGINT/SIGTERM, or until -quit-after requests were served.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
)

const page = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>wscap non-WebSocket test page</title>
<link rel="stylesheet" href="/style.css"><script src="/app.js"></script></head>
<body><h1>Hello over TLS</h1><p id="p">static page, no WebSocket here</p>
<img src="/img.svg" width="32" height="32" alt="dot"></body></html>
`

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address")
	certFile := flag.String("cert", "", "TLS certificate (enables HTTPS)")
	keyFile := flag.String("key", "", "TLS key")
	mss := flag.Int("mss", 0, "TCP_MAXSEG for the listener (0 = default)")
	flag.Parse()

	var served atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello, world\n")
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		// No Content-Length and explicit flushes: net/http uses
		// Transfer-Encoding: chunked on HTTP/1.1.
		w.Header().Set("Content-Type", "text/plain")
		f := w.(http.Flusher)
		for i := 0; i < 5; i++ {
			fmt.Fprintf(w, "chunk %d of 5: %s\n", i+1, strings.Repeat("x", 20*(i+1)))
			f.Flush()
		}
	})
	mux.HandleFunc("POST /post", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "received %d bytes of %s\n", n, r.Header.Get("Content-Type"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		const size = 100 * 1024
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(size))
		line := []byte(strings.Repeat("0123456789abcdef", 4)[:63] + "\n")
		for sent := 0; sent < size; sent += len(line) {
			w.Write(line[:min(len(line), size-sent)])
		}
	})
	mux.HandleFunc("/style.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		io.WriteString(w, "body{font-family:sans-serif;background:#eef} h1{color:#336}\n")
	})
	mux.HandleFunc("/app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		io.WriteString(w, "document.addEventListener('DOMContentLoaded',()=>{document.getElementById('p').textContent+=' (script ran)';});\n")
	})
	mux.HandleFunc("/img.svg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		io.WriteString(w, `<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><circle cx="16" cy="16" r="12" fill="#c33"/></svg>`)
	})
	logged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		log.Printf("%s %s %s %s", r.Proto, r.Method, r.URL.Path, r.RemoteAddr)
		mux.ServeHTTP(w, r)
	})

	lc := net.ListenConfig{}
	if *mss > 0 {
		lc.Control = func(network, address string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, *mss)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	ln, err := lc.Listen(context.Background(), "tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: logged, ErrorLog: log.New(os.Stderr, "http: ", 0)}
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		<-ch
		srv.Shutdown(context.Background())
	}()
	log.Printf("listening on %s (tls=%v mss=%d)", *addr, *certFile != "", *mss)
	if *certFile != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		err = srv.ServeTLS(ln, *certFile, *keyFile)
	} else {
		err = srv.Serve(ln)
	}
	if err != http.ErrServerClosed {
		log.Fatal(err)
	}
	log.Printf("served %d requests", served.Load())
}
