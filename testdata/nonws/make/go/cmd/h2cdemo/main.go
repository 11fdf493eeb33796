// h2cdemo: HTTP/2 cleartext with prior knowledge. The server is net/http
// wrapped in golang.org/x/net/http2/h2c; the client is x/net's
// http2.Transport with AllowHTTP and a DialTLSContext that dials plain TCP,
// so the client starts with the "PRI * HTTP/2.0" preface directly.
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
	"runtime"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18082", "address")
	conns := flag.Int("conns", 2, "client connections (one Transport each)")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello over %s, path %s\n", r.Proto, r.URL.Path)
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"items":[1,2,3],"note":"h2c prior knowledge"}`)
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		io.Copy(w, r.Body)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("h2c payload line 0123456789\n", 1000)) // 28 KB
	})
	srv := &http.Server{Addr: *addr, Handler: h2c.NewHandler(mux, &http2.Server{})}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)

	for c := 0; c < *conns; c++ {
		tr := &http2.Transport{
			AllowHTTP: true,
			DialTLSContext: func(ctx context.Context, network, a string, _ *tls.Config) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, a)
			},
		}
		cl := &http.Client{Transport: tr}
		base := "http://" + *addr
		do := func(method, path, body string) {
			var rb io.Reader
			if body != "" {
				rb = strings.NewReader(body)
			}
			req, _ := http.NewRequest(method, base+path, rb)
			if body != "" {
				req.Header.Set("Content-Type", "text/plain")
			}
			resp, err := cl.Do(req)
			if err != nil {
				log.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			fmt.Printf("conn %d: %s %s -> %s %s, %d bytes\n", c, method, path, resp.Proto, resp.Status, len(b))
		}
		do("GET", "/", "")
		do("GET", "/json", "")
		do("POST", "/echo", strings.Repeat("posted body ", 50))
		do("GET", "/big", "")
		do("GET", "/missing/path", "")
		tr.CloseIdleConnections()
	}
	srv.Shutdown(context.Background())
	fmt.Println("go", runtime.Version())
}
