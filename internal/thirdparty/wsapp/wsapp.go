// Package wsapp is a small real WebSocket application for tests and
// benchmarks of live capture: an echo server (gorilla/websocket) and a
// client (coder/websocket) that sends a script of messages, at a fixed
// rate if asked, and checks every echo.
//
// Both ends can run in other processes (network namespaces): Main runs a
// role chosen by its arguments; cmd/wsapp is that program.
package wsapp

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
)

// ServerOptions configure the echo server.
type ServerOptions struct {
	// Compress accepts permessage-deflate (RFC 7692) when the client offers
	// it; gorilla/websocket then compresses every message it sends.
	Compress bool
}

// Handler returns the echo server's handler: it upgrades any request to a
// WebSocket and sends every data message back with the same opcode, until
// the client closes; the close is answered.
func Handler(opts ServerOptions) http.Handler {
	up := websocket.Upgrader{
		EnableCompression: opts.Compress,
		ReadBufferSize:    64 << 10,
		WriteBufferSize:   64 << 10,
		CheckOrigin:       func(*http.Request) bool { return true },
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadLimit(64 << 20)
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(typ, msg); err != nil {
				return
			}
		}
	})
}

// Serve runs the echo server on ln until ln is closed.
func Serve(ln net.Listener, opts ServerOptions) error {
	srv := &http.Server{Handler: Handler(opts), ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

// Message is one message of a client's script.
type Message struct {
	Binary bool   `json:"binary"`
	Data   []byte `json:"data"` // base64 in JSON
}

// Script returns n messages of varied kinds and sizes (text and binary,
// 0 bytes to 70 KB, so every frame length encoding occurs), the same for
// the same n.
func Script(n int) []Message {
	sizes := []int{0, 1, 5, 125, 126, 127, 200, 1000, 65535, 65536, 70000}
	msgs := make([]Message, n)
	for i := range msgs {
		size := sizes[i%len(sizes)]
		if i%len(sizes) == 0 && i > 0 {
			size = 10 + i%50
		}
		m := Message{Binary: i%3 == 2}
		if m.Binary {
			m.Data = make([]byte, size)
			for j := range m.Data {
				m.Data[j] = byte(i*31 + j*7)
			}
		} else {
			line := fmt.Sprintf("message %d: héllo wörld ✓ ", i)
			text := strings.Repeat(line, size/len(line)+1)[:size]
			m.Data = []byte(strings.ToValidUTF8(text, "")) // a rune cut at the end is dropped
		}
		msgs[i] = m
	}
	return msgs
}

// Sized returns n binary messages of size bytes each (at least 8), each
// starting with its sequence number, for rate tests.
func Sized(n, size int) []Message {
	size = max(size, 8)
	msgs := make([]Message, n)
	for i := range msgs {
		b := make([]byte, size)
		binary.BigEndian.PutUint64(b, uint64(i))
		for j := 8; j < size; j++ {
			b[j] = byte('a' + (i+j)%26)
		}
		msgs[i] = Message{Binary: true, Data: b}
	}
	return msgs
}

// ClientOptions configure Run.
type ClientOptions struct {
	// URL of the echo server, ws://host:port/path.
	URL string
	// Compress offers permessage-deflate with context takeover and
	// compresses every message (threshold 1 byte).
	Compress bool
	// Rate, when positive, paces the sending at this many messages per
	// second (sent in small bursts every millisecond or so); otherwise
	// messages are sent as fast as the connection takes them.
	Rate float64
	// Timeout bounds the whole run; 0 means 60 s.
	Timeout time.Duration
}

// Result is what a client run did.
type Result struct {
	Sent   int `json:"sent"`   // messages sent
	Echoed int `json:"echoed"` // echoes received and checked
	// Elapsed runs from the first send to the last echo.
	Elapsed time.Duration `json:"elapsed_ns"`
	// SendLate is how far behind its schedule the paced sender was at
	// worst.
	SendLate time.Duration `json:"send_late_ns"`
}

// Run dials the server, sends msgs, checks that each comes back unchanged
// and in order, and closes the connection with status 1000.
func Run(ctx context.Context, msgs []Message, opts ClientOptions) (Result, error) {
	var res Result
	if opts.Timeout == 0 {
		opts.Timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	dopts := &coder.DialOptions{}
	if opts.Compress {
		dopts.CompressionMode = coder.CompressionContextTakeover
		dopts.CompressionThreshold = 1
	}
	c, _, err := coder.Dial(ctx, opts.URL, dopts)
	if err != nil {
		return res, fmt.Errorf("dial %s: %w", opts.URL, err)
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 20)

	echoed := make(chan error, 1)
	go func() {
		for i, m := range msgs {
			typ, data, err := c.Read(ctx)
			if err != nil {
				echoed <- fmt.Errorf("reading echo %d: %w", i, err)
				return
			}
			if (typ == coder.MessageBinary) != m.Binary || !bytes.Equal(data, m.Data) {
				echoed <- fmt.Errorf("echo %d differs from message %d (%d bytes, want %d)", i, i, len(data), len(m.Data))
				return
			}
			res.Echoed = i + 1
		}
		echoed <- nil
	}()

	start := time.Now()
	for i, m := range msgs {
		if opts.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / opts.Rate * float64(time.Second)))
			if d := time.Until(due); d > 500*time.Microsecond {
				time.Sleep(d)
			} else if -d > res.SendLate {
				res.SendLate = -d
			}
		}
		typ := coder.MessageText
		if m.Binary {
			typ = coder.MessageBinary
		}
		if err := c.Write(ctx, typ, m.Data); err != nil {
			return res, fmt.Errorf("sending message %d: %w", i, err)
		}
		res.Sent = i + 1
	}
	select {
	case err = <-echoed:
	case <-ctx.Done():
		err = ctx.Err()
	}
	res.Elapsed = time.Since(start)
	if err != nil {
		return res, err
	}
	if err := c.Close(coder.StatusNormalClosure, "done"); err != nil && !errors.Is(err, net.ErrClosed) {
		return res, fmt.Errorf("closing: %w", err)
	}
	return res, nil
}

// Main runs one role, for a test or benchmark that runs the program in
// another process (in another network namespace), and returns an exit
// status:
//
//	server [-compress] ADDR     serve on ADDR; print "listening ADDR" once ready
//	client [-compress] [-n N] [-size S] [-rate R] [-clients C] URL
//	                            send Script(N) (or Sized(N, S) when -size is
//	                            given), print the Result as JSON; with -clients,
//	                            C clients at once, each sending the messages,
//	                            one Result a line in client order
//	script [-n N] [-size S]     print the messages a client sends, one
//	                            Message as JSON a line
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "wsapp: want a role: server, client or script")
		return 2
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	compress := fs.Bool("compress", false, "permessage-deflate")
	n := fs.Int("n", 30, "messages to send")
	size := fs.Int("size", 0, "size of every message (default: a varied script)")
	rate := fs.Float64("rate", 0, "messages per second (0: unpaced)")
	timeout := fs.Duration("timeout", 60*time.Second, "bound of the whole run")
	clients := fs.Int("clients", 1, "clients at once, each sending the messages")
	operands := 1
	if args[0] == "script" {
		operands = 0
	}
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != operands || *clients < 1 {
		if operands == 0 {
			fmt.Fprintf(stderr, "wsapp: usage: %s [flags]\n", args[0])
		} else {
			fmt.Fprintf(stderr, "wsapp: usage: %s [flags] ADDR|URL\n", args[0])
		}
		return 2
	}
	script := func() []Message {
		if *size > 0 {
			return Sized(*n, *size)
		}
		return Script(*n)
	}
	switch args[0] {
	case "server":
		ln, err := net.Listen("tcp", fs.Arg(0))
		if err != nil {
			fmt.Fprintf(stderr, "wsapp: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "listening %s\n", ln.Addr())
		if err := Serve(ln, ServerOptions{Compress: *compress}); err != nil {
			fmt.Fprintf(stderr, "wsapp: %v\n", err)
			return 1
		}
		return 0
	case "client":
		results := make([]Result, *clients)
		errs := make([]error, *clients)
		var wg sync.WaitGroup
		for i := range *clients {
			wg.Go(func() {
				results[i], errs[i] = Run(context.Background(), script(), ClientOptions{URL: fs.Arg(0), Compress: *compress, Rate: *rate, Timeout: *timeout})
			})
		}
		wg.Wait()
		status := 0
		enc := json.NewEncoder(stdout)
		for i, res := range results {
			enc.Encode(struct {
				Result
				Error string `json:"error,omitempty"`
			}{res, errString(errs[i])})
			if errs[i] == nil {
				continue
			}
			status = 1
			if *clients > 1 {
				fmt.Fprintf(stderr, "wsapp: client %d: %v\n", i+1, errs[i])
			} else {
				fmt.Fprintf(stderr, "wsapp: %v\n", errs[i])
			}
		}
		return status
	case "script":
		enc := json.NewEncoder(stdout)
		for _, m := range script() {
			enc.Encode(m)
		}
		return 0
	}
	fmt.Fprintf(stderr, "wsapp: unknown role %q\n", args[0])
	return 2
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
