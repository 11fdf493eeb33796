// Capture 3: Go net/http (standard library, bundled http2) h2c prior knowledge,
// RFC 8441 extended CONNECT WebSocket. Needs GODEBUG=http2xconnect=1 (server side:
// Go 1.26 net/http does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL otherwise).
package main

import (
	"context"
	"crypto/tls"

	"encoding/json"
	"fmt"
	"golang.org/x/net/http2"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"h2caps/wsframe"
)

type stream struct {
	H2Stream    int               `json:"h2_stream"`
	Path        string            `json:"path"`
	Subprotocol string            `json:"subprotocol"`
	Extensions  string            `json:"extensions"`
	Client      []wsframe.Msg     `json:"client"`
	Server      []wsframe.Msg     `json:"server"`
	Close       map[string]int    `json:"close"`
	CloseReason map[string]string `json:"close_reason"`
}

var serverMsgs []wsframe.Msg

type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.w.(http.Flusher).Flush()
	return n, err
}

func wsHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect || r.Header.Get(":protocol") != "websocket" {
		http.Error(w, "want extended CONNECT", http.StatusBadRequest)
		return
	}
	if r.Header.Get("Sec-Websocket-Version") != "13" {
		http.Error(w, "bad version", http.StatusBadRequest)
		return
	}
	w.Header().Set("Sec-WebSocket-Protocol", "echo.v1")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	out := flushWriter{w}
	send := func(op byte, p []byte) {
		if op == wsframe.OpText {
			serverMsgs = append(serverMsgs, wsframe.Msg{Type: "text", Text: string(p)})
		} else if op == wsframe.OpBinary {
			serverMsgs = append(serverMsgs, wsframe.Msg{Type: "binary", Base64: p})
		}
		if _, err := out.Write(wsframe.Append(nil, op, p, false)); err != nil {
			log.Fatal(err)
		}
	}
	for {
		f, err := wsframe.Read(r.Body, true)
		if err != nil {
			log.Fatal("server read: ", err)
		}
		switch f.Opcode {
		case wsframe.OpText:
			send(wsframe.OpText, []byte("go server got: "+string(f.Payload)))
		case wsframe.OpBinary:
			b := append([]byte{0xff}, f.Payload...)
			send(wsframe.OpBinary, b)
		case wsframe.OpPing:
			send(wsframe.OpPong, f.Payload)
		case wsframe.OpClose:
			send(wsframe.OpClose, wsframe.ClosePayload(1000, "server bye"))
			return // handler returns -> END_STREAM
		}
	}
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "18443"
	}
	addr := "127.0.0.1:" + port
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", wsHandler)
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "hello over h2c\n")
	})
	srv := &http.Server{Handler: mux, Protocols: &protos}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)

	// Client: net/http.Transport rejects a ":protocol" header in its generic
	// header validation (transport.go roundTrip -> validateHeaders), so the
	// extended-CONNECT client must be golang.org/x/net/http2.Transport.
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, a string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, a)
		},
	}
	client := &http.Client{Transport: tr}

	// 1. ordinary GET (stream 1)
	resp, err := client.Get("http://" + addr + "/hello")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	log.Printf("GET /hello %s %q proto=%s", resp.Status, body, resp.Proto)

	// 2. extended CONNECT WebSocket (stream 3)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodConnect, "http://"+addr+"/ws", pr)
	req.Header.Set(":protocol", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Protocol", "echo.v1, chat.v1")
	resp, err = client.Do(req)
	if err != nil {
		log.Fatal("CONNECT: ", err)
	}
	if resp.StatusCode != 200 {
		log.Fatal("status ", resp.Status)
	}
	var clientMsgs []wsframe.Msg
	send := func(op byte, p []byte) {
		if op == wsframe.OpText {
			clientMsgs = append(clientMsgs, wsframe.Msg{Type: "text", Text: string(p)})
		} else if op == wsframe.OpBinary {
			clientMsgs = append(clientMsgs, wsframe.Msg{Type: "binary", Base64: p})
		}
		if _, err := pw.Write(wsframe.Append(nil, op, p, true)); err != nil {
			log.Fatal(err)
		}
	}
	recv := func(want byte) *wsframe.Frame {
		f, err := wsframe.Read(resp.Body, false)
		if err != nil {
			log.Fatal("client read: ", err)
		}
		if f.Opcode != want {
			log.Fatalf("want opcode %d got %d", want, f.Opcode)
		}
		return f
	}
	send(wsframe.OpText, []byte("hello from go client"))
	recv(wsframe.OpText)
	send(wsframe.OpBinary, []byte{1, 2, 3, 4, 5, 0x80, 0x81, 0xfe})
	recv(wsframe.OpBinary)
	send(wsframe.OpPing, []byte("go-ping"))
	recv(wsframe.OpPong)
	send(wsframe.OpText, []byte(`{"op":"sum","args":[1,2,3]}`))
	recv(wsframe.OpText)
	send(wsframe.OpClose, wsframe.ClosePayload(1000, "client bye"))
	recv(wsframe.OpClose)
	pw.Close() // END_STREAM from client
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	time.Sleep(100 * time.Millisecond)
	tr.CloseIdleConnections()
	time.Sleep(100 * time.Millisecond)
	srv.Close()

	out := map[string]any{
		"name": "go-h2c",
		"description": "Go, h2c with prior knowledge. Server: net/http http.Server with Protocols{UnencryptedHTTP2} (bundled http2). Client: golang.org/x/net/http2.Transport with AllowHTTP (net/http.Transport refuses the ':protocol' pseudo-header: 'net/http: invalid header field name \":protocol\"'). GODEBUG=http2xconnect=1 so the server sends SETTINGS_ENABLE_CONNECT_PROTOCOL=1 and accepts :protocol. " +
			"Stream 1: ordinary GET /hello answered 200 'hello over h2c\\n'. Stream 3: extended CONNECT :protocol websocket :path /ws, sec-websocket-version 13, sec-websocket-protocol 'echo.v1, chat.v1', answered :status 200 with sec-websocket-protocol echo.v1. " +
			"The Go client writes the request body through an io.Pipe; the server handler writes/flushes the ResponseWriter (full duplex). WebSocket framing hand-written (go/wsframe): client frames masked with random keys, server frames unmasked, no extensions, no fragmentation. " +
			"Exchange: each client data message is answered by one server message; client ping 'go-ping' answered by server pong 'go-ping' (between the binary pair and the last text pair). Close: client Close 1000 'client bye', server Close 1000 'server bye', then the client closes its io.Pipe (empty DATA frame with END_STREAM from the client) and the server handler returns (empty DATA with END_STREAM from the server; in this capture the client's END_STREAM came first). Then CloseIdleConnections closes the TCP connection. Both peers in one Go process over 127.0.0.1.",
		"captured_with": runtime.Version() + "; server: net/http (bundled http2) with Protocols{UnencryptedHTTP2}; client: golang.org/x/net/http2.Transport " + xnetVersion() + " (AllowHTTP, plain TCP dial); GODEBUG=http2xconnect=1",
		"port":          portNum(port),
		"streams": []stream{{H2Stream: 3, Path: "/ws", Subprotocol: "echo.v1", Client: clientMsgs, Server: serverMsgs,
			Close: map[string]int{"client": 1000, "server": 1000}, CloseReason: map[string]string{"client": "client bye", "server": "server bye"}}},
		"other_requests": []map[string]any{{"h2_stream": 1, "method": "GET", "path": "/hello", "status": 200, "response_body": string(body)}},
	}
	j, _ := json.MarshalIndent(out, "", "  ")
	outFile := os.Getenv("OUT")
	if outFile == "" {
		outFile = "../go-h2c.json"
	}
	os.WriteFile(outFile, append(j, '\n'), 0o644)
	log.Print("wrote ", outFile)
}

func xnetVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "golang.org/x/net" {
				return d.Version
			}
		}
	}
	return "?"
}

func portNum(s string) int { n, _ := strconv.Atoi(s); return n }
