package app

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// STOMPFrame is one STOMP frame (STOMP 1.2, "STOMP Frames"; 1.0 and 1.1
// read the same, without the 1.2 escapes in 1.0).
type STOMPFrame struct {
	Command string
	Headers [][2]string // in order, unescaped, repeated names kept
	Body    []byte
}

// Header returns the first value of header name (the one that counts,
// STOMP 1.2 "Repeated Header Entries").
func (f *STOMPFrame) Header(name string) (string, bool) {
	for _, h := range f.Headers {
		if h[0] == name {
			return h[1], true
		}
	}
	return "", false
}

type stompDecoder struct {
	buf [2][]byte // an unfinished frame, per direction
}

var stompCommands = map[string]bool{
	"CONNECT": true, "STOMP": true, "CONNECTED": true, "SEND": true, "SUBSCRIBE": true, "UNSUBSCRIBE": true,
	"ACK": true, "NACK": true, "BEGIN": true, "COMMIT": true, "ABORT": true, "DISCONNECT": true,
	"MESSAGE": true, "RECEIPT": true, "ERROR": true,
}

func stompHasHeaders(b []byte) bool {
	return bytes.Contains(b[:min(len(b), 512)], []byte("accept-version:")) || bytes.Contains(b[:min(len(b), 512)], []byte("host:"))
}

func (d *stompDecoder) message(c *Conn, client, text bool, payload []byte, ts time.Time, info *Info) {
	side := sideOf(client)
	b := payload
	if len(d.buf[side]) > 0 {
		d.buf[side] = append(d.buf[side], payload...)
		b = d.buf[side]
	}
	var parts []string
	heartbeats := 0
	for len(b) > 0 {
		// Heart-beats and the EOLs after frames (STOMP 1.2 "Heart-beating").
		if b[0] == '\n' || (b[0] == '\r' && len(b) > 1 && b[1] == '\n') {
			if b[0] == '\r' {
				b = b[1:]
			}
			b = b[1:]
			heartbeats++
			continue
		}
		f, n, err := parseSTOMP(b)
		if err == errShort {
			break
		}
		if err != nil {
			c.problem(CodeSTOMPMalformed, client, err.Error())
			b = nil
			break
		}
		b = b[n:]
		info.STOMP = append(info.STOMP, f)
		s := f.Command
		for _, h := range []string{"destination", "subscription", "receipt-id", "id"} {
			if v, ok := f.Header(h); ok {
				s += " " + v
				if h == "destination" {
					info.Names = append(info.Names, v)
				}
				break
			}
		}
		if len(f.Body) > 0 {
			s += fmt.Sprintf(" %d B", len(f.Body))
		}
		parts = append(parts, s)
	}
	if len(b) > 0 {
		if len(b) > c.opts.MaxBuffer {
			c.problem(CodeBufferCapped, client, fmt.Sprintf("an unfinished STOMP frame is longer than %d bytes; it is dropped", c.opts.MaxBuffer))
			b = nil
		} else {
			info.Partial = true
			parts = append(parts, fmt.Sprintf("(%d B of a frame to come)", len(b)))
		}
	}
	d.buf[side] = append(d.buf[side][:0], b...)
	if heartbeats > 0 && len(parts) == 0 {
		parts = append(parts, "heart-beat")
		info.STOMP = []STOMPFrame{}
	}
	info.Summary = strings.Join(parts, "; ")
}

type stompError string

func (e stompError) Error() string { return string(e) }

const errShort = stompError("short")

// parseSTOMP reads one frame from b: the command line, the header lines,
// a blank line, and the body up to content-length bytes or the first NUL,
// then the NUL.
func parseSTOMP(b []byte) (f STOMPFrame, n int, err error) {
	line := func(i int) (string, int, bool) {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return "", 0, false
		}
		l := b[i : i+j]
		l = bytes.TrimSuffix(l, []byte("\r"))
		return string(l), i + j + 1, true
	}
	cmd, i, ok := line(0)
	if !ok {
		if fs := strings.Fields(string(b[:min(len(b), 64)])); len(b) > 64 && (len(fs) == 0 || !stompCommands[fs[0]]) {
			return f, 0, stompError(fmt.Sprintf("%q is not a STOMP command (STOMP 1.2 \"STOMP Frames\")", b[:min(len(b), 16)]))
		}
		return f, 0, errShort
	}
	if !stompCommands[cmd] {
		return f, 0, stompError(fmt.Sprintf("%q is not a STOMP command (STOMP 1.2 \"STOMP Frames\")", cmd[:min(len(cmd), 32)]))
	}
	f.Command = cmd
	escapes := cmd != "CONNECT" && cmd != "CONNECTED"
	length := -1
	for {
		l, next, ok := line(i)
		if !ok {
			return f, 0, errShort
		}
		i = next
		if l == "" {
			break
		}
		name, value, found := strings.Cut(l, ":")
		if !found {
			return f, 0, stompError(fmt.Sprintf("the %s frame's header line %q has no colon (STOMP 1.2 \"STOMP Frames\")", cmd, l[:min(len(l), 40)]))
		}
		if escapes {
			var e1, e2 error
			name, e1 = stompUnescape(name)
			value, e2 = stompUnescape(value)
			if e1 != nil || e2 != nil {
				return f, 0, stompError(fmt.Sprintf("the %s frame's header %q has an undefined escape (STOMP 1.2 \"Value Encoding\")", cmd, l[:min(len(l), 40)]))
			}
		}
		f.Headers = append(f.Headers, [2]string{name, value})
		if name == "content-length" && length < 0 {
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return f, 0, stompError(fmt.Sprintf("the %s frame's content-length %q is not a length", cmd, value))
			}
			length = n
		}
		if len(f.Headers) > 1000 {
			return f, 0, stompError("a STOMP frame with more than 1,000 headers")
		}
	}
	if length >= 0 {
		if len(b) < i+length+1 {
			return f, 0, errShort
		}
		if b[i+length] != 0 {
			return f, 0, stompError(fmt.Sprintf("the %s frame's body of content-length %d is not followed by NUL (STOMP 1.2 \"Body\")", cmd, length))
		}
		f.Body = bytes.Clone(b[i : i+length])
		return f, i + length + 1, nil
	}
	j := bytes.IndexByte(b[i:], 0)
	if j < 0 {
		return f, 0, errShort
	}
	f.Body = bytes.Clone(b[i : i+j])
	return f, i + j + 1, nil
}

func stompUnescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			sb.WriteByte(s[i])
			continue
		}
		i++
		if i >= len(s) {
			return "", errShort
		}
		switch s[i] {
		case 'r':
			sb.WriteByte('\r')
		case 'n':
			sb.WriteByte('\n')
		case 'c':
			sb.WriteByte(':')
		case '\\':
			sb.WriteByte('\\')
		default:
			return "", errShort
		}
	}
	return sb.String(), nil
}

func (d *stompDecoder) lost(side int) { d.buf[side] = nil }

func (d *stompDecoder) end(c *Conn, client bool) {
	if n := len(d.buf[sideOf(client)]); n > 0 {
		c.problem(CodeSTOMPMalformed, client, fmt.Sprintf("the WebSocket ended inside a STOMP frame: %d bytes without the NUL that ends a frame (STOMP 1.2 \"STOMP Frames\")", n))
	}
}
