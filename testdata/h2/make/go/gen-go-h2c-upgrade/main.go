// Capture 4: HTTP/1.1 "Upgrade: h2c" (RFC 7540 §3.2) to a Go server using
// golang.org/x/net/http2/h2c, then an RFC 8441 extended CONNECT WebSocket on
// stream 3. The client is written at the frame level (x/net/http2 Framer + hpack).
// Needs GODEBUG=http2xconnect=1 for the server to advertise/accept extended CONNECT.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"golang.org/x/net/http2/hpack"

	"h2caps/wsframe"
)

var serverMsgs []wsframe.Msg

func wsHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect || r.Header.Get(":protocol") != "websocket" {
		http.Error(w, "want extended CONNECT", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	send := func(op byte, p []byte) {
		switch op {
		case wsframe.OpText:
			serverMsgs = append(serverMsgs, wsframe.Msg{Type: "text", Text: string(p)})
		case wsframe.OpBinary:
			serverMsgs = append(serverMsgs, wsframe.Msg{Type: "binary", Base64: p})
		}
		if _, err := w.Write(wsframe.Append(nil, op, p, false)); err != nil {
			log.Fatal(err)
		}
		w.(http.Flusher).Flush()
	}
	send(wsframe.OpText, []byte("welcome (server speaks first)"))
	for {
		f, err := wsframe.Read(r.Body, true)
		if err != nil {
			log.Fatal("server read: ", err)
		}
		switch f.Opcode {
		case wsframe.OpText:
			send(wsframe.OpText, []byte("upgrade server got: "+string(f.Payload)))
		case wsframe.OpBinary:
			send(wsframe.OpBinary, bytes.ToUpper(f.Payload))
		case wsframe.OpPing:
			send(wsframe.OpPong, f.Payload)
		case wsframe.OpClose:
			send(wsframe.OpClose, f.Payload) // echo the close code+reason
			// Wait for the client's END_STREAM before returning; returning with the
			// request body still open makes x/net send RST_STREAM.
			io.Copy(io.Discard, r.Body)
			return
		}
	}
}

// streamReader yields the DATA payload of one stream, handling other frames.
type streamReader struct {
	fr       *http2.Framer
	id       uint32
	buf      []byte
	ended    bool
	onHeader func(*http2.MetaHeadersFrame)
}

func (s *streamReader) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		if s.ended {
			return 0, io.EOF
		}
		f, err := s.fr.ReadFrame()
		if err != nil {
			return 0, err
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			if f.StreamID == s.id {
				s.buf = append(s.buf, f.Data()...)
				s.ended = f.StreamEnded()
			}
		case *http2.MetaHeadersFrame:
			if s.onHeader != nil {
				s.onHeader(f)
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				s.fr.WritePing(true, f.Data)
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				s.fr.WriteSettingsAck()
			}
		case *http2.GoAwayFrame:
			return 0, fmt.Errorf("goaway %v", f.ErrCode)
		case *http2.RSTStreamFrame:
			return 0, fmt.Errorf("rst %v", f.ErrCode)
		}
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "18444"
	}
	addr := "127.0.0.1:" + port
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", wsHandler)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "response to the upgraded %s %s over h2 stream 1 (%s)\n", r.Method, r.URL.Path, r.Proto)
	})
	srv := &http.Server{Handler: h2c.NewHandler(mux, &http2.Server{})}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	// Client SETTINGS: ENABLE_PUSH=0, MAX_CONCURRENT_STREAMS=100, INITIAL_WINDOW_SIZE=1048576
	settings := []http2.Setting{{ID: http2.SettingEnablePush, Val: 0}, {ID: http2.SettingMaxConcurrentStreams, Val: 100}, {ID: http2.SettingInitialWindowSize, Val: 1 << 20}}
	var sp []byte
	for _, s := range settings {
		sp = binary.BigEndian.AppendUint16(sp, uint16(s.ID))
		sp = binary.BigEndian.AppendUint32(sp, s.Val)
	}
	h2s := base64.RawURLEncoding.EncodeToString(sp)
	upgradeReq := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: h2caps-upgrade-client\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: " + h2s + "\r\n\r\n"
	if _, err := io.WriteString(conn, upgradeReq); err != nil {
		log.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		log.Fatal(err)
	}
	if resp.StatusCode != 101 {
		log.Fatal("no 101: ", resp.Status)
	}
	log.Printf("HTTP/1.1 %s Upgrade=%s", resp.Status, resp.Header.Get("Upgrade"))

	io.WriteString(conn, http2.ClientPreface)
	fr := http2.NewFramer(conn, br)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.WriteSettings(settings...)

	// Read until we have the server SETTINGS and the full response on stream 1.
	var xconnect, gotSettings, s1done bool
	var s1status string
	var s1body []byte
	for !(gotSettings && s1done) {
		f, err := fr.ReadFrame()
		if err != nil {
			log.Fatal(err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				gotSettings = true
				if v, ok := f.Value(http2.SettingEnableConnectProtocol); ok && v == 1 {
					xconnect = true
				}
				fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 {
				s1status = f.PseudoValue("status")
				s1done = s1done || f.StreamEnded()
			}
		case *http2.DataFrame:
			if f.StreamID == 1 {
				s1body = append(s1body, f.Data()...)
				s1done = s1done || f.StreamEnded()
			}
		}
	}
	log.Printf("stream 1: %s %q; server ENABLE_CONNECT_PROTOCOL=%v", s1status, s1body, xconnect)
	if !xconnect {
		log.Fatal("server did not enable extended CONNECT (run with GODEBUG=http2xconnect=1)")
	}

	// Extended CONNECT on stream 3.
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, kv := range [][2]string{{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "http"}, {":path", "/ws"}, {":authority", addr}, {"sec-websocket-version", "13"}, {"user-agent", "h2caps-upgrade-client"}} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: hb.Bytes(), EndHeaders: true})
	var s3status string
	sr := &streamReader{fr: fr, id: 3, onHeader: func(h *http2.MetaHeadersFrame) {
		if h.StreamID == 3 {
			s3status = h.PseudoValue("status")
			log.Printf("stream 3 response :status %s", s3status)
		}
	}}
	var clientMsgs []wsframe.Msg
	send := func(op byte, p []byte) {
		switch op {
		case wsframe.OpText:
			clientMsgs = append(clientMsgs, wsframe.Msg{Type: "text", Text: string(p)})
		case wsframe.OpBinary:
			clientMsgs = append(clientMsgs, wsframe.Msg{Type: "binary", Base64: p})
		}
		if err := fr.WriteData(3, false, wsframe.Append(nil, op, p, true)); err != nil {
			log.Fatal(err)
		}
	}
	recv := func(want byte) *wsframe.Frame {
		f, err := wsframe.Read(sr, false)
		if err != nil {
			log.Fatal("client read: ", err)
		}
		if f.Opcode != want {
			log.Fatalf("want opcode %d got %d", want, f.Opcode)
		}
		return f
	}
	recv(wsframe.OpText) // server speaks first (also consumes the :status 200 HEADERS)
	if s3status != "200" {
		log.Fatal("stream 3 status ", s3status)
	}
	send(wsframe.OpText, []byte("hi after h2c upgrade"))
	recv(wsframe.OpText)
	send(wsframe.OpBinary, []byte("abc\x00xyz"))
	recv(wsframe.OpBinary)
	send(wsframe.OpPing, []byte("p1"))
	recv(wsframe.OpPong)
	send(wsframe.OpClose, wsframe.ClosePayload(1000, "done"))
	recv(wsframe.OpClose)
	fr.WriteData(3, true, nil) // END_STREAM from client
	for !sr.ended {            // wait for server END_STREAM
		if _, err := sr.Read(make([]byte, 1)); err != nil {
			break
		}
	}
	fr.WriteGoAway(3, http2.ErrCodeNo, nil)
	// Half-close and drain until the server closes too (clean FIN both ways).
	conn.(*net.TCPConn).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		if _, err := fr.ReadFrame(); err != nil {
			break
		}
	}
	conn.Close()
	time.Sleep(100 * time.Millisecond)
	srv.Close()

	xnet := "?"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "golang.org/x/net" {
				xnet = d.Version
			}
		}
	}
	out := map[string]any{
		"name": "go-h2c-upgrade",
		"description": "HTTP/1.1 Upgrade to h2c (RFC 7540 §3.2) then RFC 8441 WebSocket. Server: net/http http.Server (HTTP/1 only) whose handler is golang.org/x/net/http2/h2c.NewHandler(mux, &http2.Server{}), GODEBUG=http2xconnect=1 (so the x/net server sends SETTINGS_ENABLE_CONNECT_PROTOCOL=1). " +
			"Client (frame level, x/net/http2 Framer + hpack): sends 'GET / HTTP/1.1' with Connection: Upgrade, HTTP2-Settings / Upgrade: h2c / HTTP2-Settings: " + h2s + " (ENABLE_PUSH=0, MAX_CONCURRENT_STREAMS=100, INITIAL_WINDOW_SIZE=1048576), gets '101 Switching Protocols', sends the preface and the same SETTINGS, acks the server SETTINGS. The upgraded GET / is h2 stream 1 (half-closed by the client); the server answers it on stream 1 with 200 text/plain. " +
			"Then the client sends HEADERS on stream 3: :method CONNECT, :protocol websocket, :scheme http, :path /ws, :authority, sec-websocket-version 13 (no subprotocol, no extensions); server answers :status 200 and immediately sends a text message (server speaks first). Hand-written RFC 6455 framing, client frames masked, one WebSocket frame per DATA frame from the client. " +
			"Client ping 'p1' answered by server pong 'p1' (after the binary pair). Close: client Close 1000 'done', server echoes Close 1000 'done', client sends empty DATA with END_STREAM, the server handler (which waited for the request body EOF) returns and the server sends empty DATA with END_STREAM; then client GOAWAY(last_stream_id=3, NO_ERROR), client TCP half-close (FIN), server replies (GOAWAY) and closes (FIN). Both peers in one Go process over 127.0.0.1.",
		"captured_with": runtime.Version() + "; golang.org/x/net " + xnet + " (http2, http2/h2c, http2/hpack); GODEBUG=http2xconnect=1",
		"port":          portNum(port),
		"http1_upgrade": map[string]any{"request": upgradeReq, "response_status": 101, "http2_settings_base64url": h2s},
		"streams": []map[string]any{{"h2_stream": 3, "path": "/ws", "subprotocol": "", "extensions": "", "client": clientMsgs, "server": serverMsgs,
			"close": map[string]int{"client": 1000, "server": 1000}, "close_reason": map[string]string{"client": "done", "server": "done"}}},
		"other_requests": []map[string]any{{"h2_stream": 1, "method": "GET", "path": "/", "note": "the HTTP/1.1 Upgrade request itself; its response is sent as h2 stream 1", "status": 200, "response_body": string(s1body)}},
	}
	j, _ := json.MarshalIndent(out, "", "  ")
	outFile := os.Getenv("OUT")
	if outFile == "" {
		outFile = "../go-h2c-upgrade.json"
	}
	os.WriteFile(outFile, append(j, '\n'), 0o644)
	log.Print("wrote ", outFile)
}

func portNum(s string) int { n, _ := strconv.Atoi(s); return n }
