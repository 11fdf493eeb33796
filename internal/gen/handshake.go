package gen

import (
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// acceptGUID is the GUID appended to the key (RFC 6455 §1.3).
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey returns Sec-WebSocket-Accept for a Sec-WebSocket-Key:
// base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2).
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// HeaderEdit changes one header of a generated handshake. The default is to
// replace the value of every header named Name (case-insensitive) or append
// it when absent; Add appends a further header even when one exists, Del
// removes every header named Name.
type HeaderEdit struct {
	Name  string
	Value string
	Add   bool
	Del   bool
}

// Handshake describes the opening handshake (RFC 6455 §4): the client's
// GET with Upgrade and the server's 101 response. Zero fields take the
// defaults noted; the edits and raw fields make broken handshakes.
type Handshake struct {
	Path      string   // request target; "" is "/"
	Host      string   // Host header; "" is the server address
	Origin    string   // Origin header; "" omits it
	UserAgent string   // User-Agent header; "" omits it
	Protocols []string // Sec-WebSocket-Protocol offered by the client
	Protocol  string   // Sec-WebSocket-Protocol chosen by the server; "" omits it

	// Deflate, when set, negotiates permessage-deflate (RFC 7692) with these
	// parameters: the offer and the response headers derive from it, and
	// data messages are then compressed (see Message.Compress).
	Deflate *Deflate
	// Offer replaces the request's Sec-WebSocket-Extensions value (an
	// offer without Deflate, or a different one); "" derives it from Deflate.
	Offer string
	// Extensions replaces the response's Sec-WebSocket-Extensions value;
	// "" derives it from Deflate. Compression still follows Deflate.
	Extensions string

	Key    string // Sec-WebSocket-Key; "" is 16 seeded random bytes, base64
	Accept string // Sec-WebSocket-Accept; "" is AcceptKey(Key)
	Status int    // response status; 0 is 101 (Switching Protocols)

	Request  []HeaderEdit // applied to the request headers in order
	Response []HeaderEdit // applied to the response headers in order

	// RawRequest and RawResponse, when non-nil, are written instead of the
	// generated request or response.
	RawRequest, RawResponse []byte

	// NoResponse writes only the request.
	NoResponse bool
	// ResponseWithFirstFrame holds the response back so that it shares a
	// TCP segment with the server's next write (its first frame).
	ResponseWithFirstFrame bool
	// ServerDelay is the time from the request to the response; 0 is the
	// connection's RTT.
	ServerDelay time.Duration
}

type header struct{ name, value string }

func editHeaders(hs []header, edits []HeaderEdit) []header {
	for _, e := range edits {
		switch {
		case e.Del:
			out := hs[:0]
			for _, h := range hs {
				if !strings.EqualFold(h.name, e.Name) {
					out = append(out, h)
				}
			}
			hs = out
		case e.Add:
			hs = append(hs, header{e.Name, e.Value})
		default:
			found := false
			for i := range hs {
				if strings.EqualFold(hs[i].name, e.Name) {
					hs[i].value = e.Value
					found = true
				}
			}
			if !found {
				hs = append(hs, header{e.Name, e.Value})
			}
		}
	}
	return hs
}

func appendHeaders(b []byte, hs []header) []byte {
	for _, h := range hs {
		b = append(b, h.name...)
		b = append(b, ": "...)
		b = append(b, h.value...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// request returns the client's opening handshake for key.
func (h *Handshake) request(host, key string) []byte {
	if h.RawRequest != nil {
		return h.RawRequest
	}
	path := h.Path
	if path == "" {
		path = "/"
	}
	if h.Host != "" {
		host = h.Host
	}
	hs := []header{
		{"Host", host},
		{"Upgrade", "websocket"},
		{"Connection", "Upgrade"},
		{"Sec-WebSocket-Key", key},
		{"Sec-WebSocket-Version", "13"},
	}
	if h.Origin != "" {
		hs = append(hs, header{"Origin", h.Origin})
	}
	if h.UserAgent != "" {
		hs = append(hs, header{"User-Agent", h.UserAgent})
	}
	if len(h.Protocols) > 0 {
		hs = append(hs, header{"Sec-WebSocket-Protocol", strings.Join(h.Protocols, ", ")})
	}
	if offer := h.offer(); offer != "" {
		hs = append(hs, header{"Sec-WebSocket-Extensions", offer})
	}
	hs = editHeaders(hs, h.Request)
	b := make([]byte, 0, 256)
	b = append(b, "GET "...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\n"...)
	return appendHeaders(b, hs)
}

// offer returns the request's Sec-WebSocket-Extensions value: Offer, or
// the one Deflate derives; "" for none.
func (h *Handshake) offer() string {
	if h.Offer == "" && h.Deflate != nil {
		return h.Deflate.Offer()
	}
	return h.Offer
}

// status returns the response status code.
func (h *Handshake) status() int {
	if h.Status == 0 {
		return 101
	}
	return h.Status
}

// extensions returns the negotiated Sec-WebSocket-Extensions value.
func (h *Handshake) extensions() string {
	if h.Extensions != "" {
		return h.Extensions
	}
	if h.Deflate != nil {
		return h.Deflate.String()
	}
	return ""
}

// response returns the server's handshake answering key.
func (h *Handshake) response(key string) []byte {
	if h.RawResponse != nil {
		return h.RawResponse
	}
	status := h.status()
	var hs []header
	if status == 101 {
		accept := h.Accept
		if accept == "" {
			accept = AcceptKey(key)
		}
		hs = []header{
			{"Upgrade", "websocket"},
			{"Connection", "Upgrade"},
			{"Sec-WebSocket-Accept", accept},
		}
		if h.Protocol != "" {
			hs = append(hs, header{"Sec-WebSocket-Protocol", h.Protocol})
		}
		if ext := h.extensions(); ext != "" {
			hs = append(hs, header{"Sec-WebSocket-Extensions", ext})
		}
	} else {
		hs = []header{{"Content-Length", "0"}}
		if status == http.StatusUpgradeRequired {
			hs = append(hs, header{"Sec-WebSocket-Version", "13"})
		}
	}
	hs = editHeaders(hs, h.Response)
	b := make([]byte, 0, 192)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	text := http.StatusText(status)
	if text == "" {
		text = "Unknown"
	}
	b = append(b, text...)
	b = append(b, "\r\n"...)
	return appendHeaders(b, hs)
}
