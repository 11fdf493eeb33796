package gen

import (
	"bytes"
	"strconv"
	"strings"

	"golang.org/x/net/http2/hpack"
)

// WebSocket over HTTP/2 (RFC 8441), for ConnOptions.H2: the handshake is
// an extended CONNECT on stream 1, the WebSocket's bytes go in its DATA
// frames. The frames are written here, not by x/net's Framer, so that the
// bytes are a pure function of the script.

const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// h2Frame appends one frame (RFC 9113 §4.1).
func h2Frame(dst []byte, typ, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	dst = append(dst, byte(n>>16), byte(n>>8), byte(n), typ, flags,
		byte(stream>>24), byte(stream>>16), byte(stream>>8), byte(stream))
	return append(dst, payload...)
}

// h2Data wraps b in DATA frames of stream 1 of at most 16,384 bytes (the
// default SETTINGS_MAX_FRAME_SIZE).
func h2Data(b []byte) []byte {
	out := make([]byte, 0, len(b)+9*(len(b)/16384+1))
	for len(b) > 0 {
		n := min(len(b), 16384)
		out = h2Frame(out, 0x0, 0, 1, b[:n])
		b = b[n:]
	}
	return out
}

// h2Block encodes header fields with a fresh HPACK encoder (one block per
// direction, so the dynamic table is fresh as well).
func h2Block(fields ...string) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return buf.Bytes()
}

// h2Handshake writes the prefaces, the settings, and the extended CONNECT
// of stream 1 with its 200, then switches the connection's writes to DATA
// frames.
func (s *connState) h2Handshake(h *Handshake) {
	host := h.Host
	if host == "" {
		host = s.addr[FromServer].String()
	}
	path := h.Path
	if path == "" {
		path = "/"
	}
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
	}
	req := []string{":method", "CONNECT", ":protocol", "websocket", ":scheme", scheme, ":path", path, ":authority", host, "sec-websocket-version", "13"}
	if len(h.Protocols) > 0 {
		req = append(req, "sec-websocket-protocol", strings.Join(h.Protocols, ", "))
	}
	if offer := h.offer(); offer != "" {
		req = append(req, "sec-websocket-extensions", offer)
	}
	// The client's preface, the server's settings (enabling extended
	// CONNECT), then the CONNECT: a client may not send :protocol before
	// it has the setting (RFC 8441 §3).
	var c []byte
	c = append(c, h2Preface...)
	c = h2Frame(c, 0x4, 0, 0, nil) // SETTINGS
	s.write(FromClient, c, false)
	s.now += s.rtt / 2
	var sv []byte
	sv = h2Frame(sv, 0x4, 0, 0, []byte{0, 8, 0, 0, 0, 1}) // SETTINGS_ENABLE_CONNECT_PROTOCOL = 1
	sv = h2Frame(sv, 0x4, 0x1, 0, nil)                    // ACK
	s.write(FromServer, sv, false)
	s.now += s.rtt / 2
	c = h2Frame(nil, 0x4, 0x1, 0, nil) // ACK
	c = h2Frame(c, 0x1, 0x4, 1, h2Block(req...))
	s.write(FromClient, c, false)
	s.now += s.rtt
	status := h.status()
	if status == 101 {
		status = 200
	}
	resp := []string{":status", strconv.Itoa(status)}
	if h.Protocol != "" {
		resp = append(resp, "sec-websocket-protocol", h.Protocol)
	}
	if ext := h.extensions(); ext != "" {
		resp = append(resp, "sec-websocket-extensions", ext)
	}
	s.write(FromServer, h2Frame(nil, 0x1, 0x4, 1, h2Block(resp...)), false)
	s.negotiated(h, status)
	s.h2 = true
}
