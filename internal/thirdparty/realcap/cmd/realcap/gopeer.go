package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	goruntime "runtime"
	"runtime/debug"
	"time"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
)

// conn is what the script runner needs from one side's WebSocket connection.
type conn interface {
	// send performs one of this side's steps (data message, ping or pong).
	send(st step) error
	// recv reads the next data message; control frames are left to the library.
	recv() (op string, data []byte, err error)
	// closeInit starts the close handshake and waits for it to finish.
	closeInit(code int, reason string) error
	// awaitClose waits for the peer's close frame (the library answers it) and returns it.
	awaitClose() (code int, reason string, err error)
}

// runScript performs side's part of the script on c.
func runScript(side string, c conn, steps []step) error {
	for i, st := range steps {
		if st.auto {
			continue
		}
		if st.from == side {
			if st.op == "close" {
				if err := c.closeInit(st.code, st.reason); err != nil {
					return fmt.Errorf("step %d: close: %w", i, err)
				}
				return nil
			}
			if err := c.send(st); err != nil {
				return fmt.Errorf("step %d: send %s: %w", i, st.op, err)
			}
			continue
		}
		switch st.op {
		case "text", "binary":
			op, data, err := c.recv()
			if err != nil {
				return fmt.Errorf("step %d: recv: %w", i, err)
			}
			if op != st.op || !bytes.Equal(data, st.data) {
				return fmt.Errorf("step %d: got %s of %d bytes, want %s of %d bytes", i, op, len(data), st.op, len(st.data))
			}
		case "close":
			code, reason, err := c.awaitClose()
			if err != nil {
				return fmt.Errorf("step %d: await close: %w", i, err)
			}
			if code != st.code || reason != st.reason {
				return fmt.Errorf("step %d: got close %d %q, want %d %q", i, code, reason, st.code, st.reason)
			}
			return nil
		}
	}
	return errors.New("script ended without close")
}

// goServer runs a Go library's server in-process on a loopback listener.
type goServer struct {
	ln   net.Listener
	srv  *http.Server
	done chan error
	impl string
}

func startGoServer(sc scenario, host string) (*goServer, error) {
	ln, err := net.Listen(sc.network, net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, err
	}
	s := &goServer{ln: ln, done: make(chan error, 1), impl: sc.server.impl}
	spec := sc.server
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c conn
		switch spec.impl {
		case "gorilla":
			up := gorilla.Upgrader{
				WriteBufferSize:   spec.writeBufferSize,
				EnableCompression: spec.compress,
				CheckOrigin:       func(*http.Request) bool { return true },
			}
			ws, err := up.Upgrade(w, r, nil)
			if err != nil {
				s.done <- err
				return
			}
			defer ws.Close()
			c = &gorillaConn{ws: ws}
		case "coder":
			opts := &coder.AcceptOptions{CompressionMode: coder.CompressionDisabled, CompressionThreshold: spec.threshold}
			if spec.compress {
				opts.CompressionMode = coder.CompressionContextTakeover
			}
			ws, err := coder.Accept(w, r, opts)
			if err != nil {
				s.done <- err
				return
			}
			defer ws.CloseNow()
			ws.SetReadLimit(1 << 20)
			c = &coderConn{ws: ws}
		}
		s.done <- runScript(server, c, sc.steps)
	})
	s.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *goServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *goServer) wait() error {
	select {
	case err := <-s.done:
		return err
	case <-time.After(30 * time.Second):
		return errors.New("server script timed out")
	}
}

func (s *goServer) stop() { _ = s.srv.Close() }

func (s *goServer) version() string { return moduleVersion(implName(s.impl)) }

func (s *goServer) runtime() string { return goruntime.Version() }

// runGoClient dials url with a Go library and runs the client's part of the script.
func runGoClient(ctx context.Context, sc scenario, url string) (clientResult, error) {
	spec := sc.client
	res := clientResult{version: moduleVersion(implName(spec.impl)), runtime: goruntime.Version()}
	var c conn
	switch spec.impl {
	case "gorilla":
		d := gorilla.Dialer{
			WriteBufferSize:   spec.writeBufferSize,
			EnableCompression: spec.compress,
			HandshakeTimeout:  10 * time.Second,
		}
		ws, resp, err := d.DialContext(ctx, url, nil)
		if err != nil {
			return res, err
		}
		defer ws.Close()
		res.extensions = resp.Header.Get("Sec-WebSocket-Extensions")
		c = &gorillaConn{ws: ws}
	case "coder":
		opts := &coder.DialOptions{CompressionMode: coder.CompressionDisabled, CompressionThreshold: spec.threshold}
		if spec.compress {
			opts.CompressionMode = coder.CompressionContextTakeover
		}
		ws, resp, err := coder.Dial(ctx, url, opts)
		if err != nil {
			return res, err
		}
		defer ws.CloseNow()
		ws.SetReadLimit(1 << 20)
		res.extensions = resp.Header.Get("Sec-WebSocket-Extensions")
		c = &coderConn{ws: ws}
	default:
		return res, fmt.Errorf("not a Go implementation: %s", spec.impl)
	}
	return res, runScript(client, c, sc.steps)
}

// moduleVersion reports the version of a dependency linked into this binary.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "unknown"
}

const writeWait = 5 * time.Second

// gorillaConn drives a gorilla/websocket connection.
type gorillaConn struct{ ws *gorilla.Conn }

func gorillaType(op string) int {
	switch op {
	case "text":
		return gorilla.TextMessage
	case "binary":
		return gorilla.BinaryMessage
	case "ping":
		return gorilla.PingMessage
	case "pong":
		return gorilla.PongMessage
	}
	return gorilla.CloseMessage
}

func (g *gorillaConn) send(st step) error {
	switch st.op {
	case "ping", "pong":
		return g.ws.WriteControl(gorillaType(st.op), st.data, time.Now().Add(writeWait))
	}
	if st.sendCompress != nil {
		g.ws.EnableWriteCompression(*st.sendCompress)
		defer g.ws.EnableWriteCompression(true)
	}
	if st.frags == nil {
		return g.ws.WriteMessage(gorillaType(st.op), st.data)
	}
	w, err := g.ws.NextWriter(gorillaType(st.op))
	if err != nil {
		return err
	}
	for _, f := range st.frags {
		if _, err := w.Write(f); err != nil {
			return err
		}
	}
	return w.Close()
}

func (g *gorillaConn) recv() (string, []byte, error) {
	t, data, err := g.ws.ReadMessage()
	if err != nil {
		return "", nil, err
	}
	if t == gorilla.TextMessage {
		return "text", data, nil
	}
	return "binary", data, nil
}

func (g *gorillaConn) closeInit(code int, reason string) error {
	if err := g.ws.WriteControl(gorilla.CloseMessage, gorilla.FormatCloseMessage(code, reason), time.Now().Add(writeWait)); err != nil {
		return err
	}
	_ = g.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := g.ws.ReadMessage(); err != nil {
			var ce *gorilla.CloseError
			if errors.As(err, &ce) {
				return g.ws.Close()
			}
			return err
		}
	}
}

func (g *gorillaConn) awaitClose() (int, string, error) {
	_ = g.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := g.ws.ReadMessage()
		if err == nil {
			return 0, "", errors.New("data message while waiting for close")
		}
		var ce *gorilla.CloseError
		if !errors.As(err, &ce) {
			return 0, "", err
		}
		// gorilla's default close handler has already answered with the same code.
		return ce.Code, ce.Text, g.ws.Close()
	}
}

// coderConn drives a coder/websocket connection.
type coderConn struct{ ws *coder.Conn }

func coderType(op string) coder.MessageType {
	if op == "text" {
		return coder.MessageText
	}
	return coder.MessageBinary
}

func (c *coderConn) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

func (c *coderConn) send(st step) error {
	ctx, cancel := c.ctx()
	defer cancel()
	if st.op != "text" && st.op != "binary" {
		return fmt.Errorf("coder: cannot script %s", st.op)
	}
	if st.frags == nil {
		return c.ws.Write(ctx, coderType(st.op), st.data)
	}
	w, err := c.ws.Writer(ctx, coderType(st.op))
	if err != nil {
		return err
	}
	for _, f := range st.frags {
		if _, err := w.Write(f); err != nil {
			return err
		}
	}
	return w.Close()
}

func (c *coderConn) recv() (string, []byte, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	t, data, err := c.ws.Read(ctx)
	if err != nil {
		return "", nil, err
	}
	if t == coder.MessageText {
		return "text", data, nil
	}
	return "binary", data, nil
}

func (c *coderConn) closeInit(code int, reason string) error {
	return c.ws.Close(coder.StatusCode(code), reason)
}

func (c *coderConn) awaitClose() (int, string, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	_, _, err := c.ws.Read(ctx)
	var ce coder.CloseError
	if !errors.As(err, &ce) {
		return 0, "", fmt.Errorf("want close frame, got %v", err)
	}
	// coder has already echoed the close frame and closed the connection.
	return int(ce.Code), ce.Reason, nil
}
