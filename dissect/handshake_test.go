package dissect

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wscap/wscap/dissect/http1"
)

func TestComputeAccept(t *testing.T) {
	// RFC 6455 §1.3 and §4.2.2 (the RFC's own text; "s3pPLMBiTxaQ9kYGzzzo+xOo+pM="
	// is a corrupted copy that circulates).
	if got := ComputeAccept("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("ComputeAccept = %q", got)
	}
	// Pairs captured from real exchanges: those of the handshakes in
	// dissect/http1's tests (gorilla/websocket, coder/websocket, Python
	// websockets, Node's undici, Chrome 120), and four more.
	for key, accept := range map[string]string{
		"61ZXqjjXuvxHmT1wenaogA==": "P/iG3DZVWOTcRyOOXRgxIyOQisA=",
		"8Iowu1SYa4QZvFIpoRPCvg==": "WRmJOyVPOWPRj3mDZEBwborgDlk=",
		"nXFLYlXVD3F26Valu7dUyw==": "D7IxKCP9GpJ3PpXmz3o2T+fW25M=",
		"RsOzRgrMstUJcBDSg5s1TA==": "y4H+Rvaoackv/oeO/28gZCAFxv4=",
		"x3JJHMbDL1EzLkh9GBhXDw==": "HSmrc0sMlYUkAGmm5OPpG2HaGWk=",

		"FuvbwfQ0zMd388//VXYb5A==": "uZaEZ4GfGCZ6gbuZ5cyqQvadJ7I=",
		"ZM9QxI11nAd/xeOuCZeHKw==": "wpRbacQHkcuRr7QW+M0uwlpnoYk=",
		"O7wY4R0K+EqkP8wlNrKE/g==": "0tT2bKO95bMW6nl5wsxzSfC/zt4=",
		"b6/GW/zmLaKA+/tVDAArwQ==": "kHDsvpWztfogapULNEsfc7Wt7l0=",
	} {
		if got := ComputeAccept(key); got != accept {
			t.Errorf("ComputeAccept(%q) = %q, want %q", key, got, accept)
		}
	}
}

func TestValidKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"dGhlIHNhbXBsZSBub25jZQ==", true},
		{"61ZXqjjXuvxHmT1wenaogA==", true},
		{"8Iowu1SYa4QZvFIpoRPCvg==", true},
		{"nXFLYlXVD3F26Valu7dUyw==", true},
		{"RsOzRgrMstUJcBDSg5s1TA==", true},
		{"x3JJHMbDL1EzLkh9GBhXDw==", true},
		{"AQIDBAUGBwgJCgsMDQ4PEA==", true}, // Firefox 121
		{"AAAAAAAAAAAAAAAAAAAAAA==", true},
		{"/+/+/+/+/+/+/+/+/+/+/w==", true},
		{"dGhlIHNhbXBsZSBub25jZR==", true}, // non-zero padding bits: decodes to the same 16 bytes
		{"", false},
		{"dGhlIHNhbXBsZSBub25jZQ=", false},
		{"dGhlIHNhbXBsZSBub25jZQ", false},
		{"dGhlIHNhbXBsZSBub25jZQ===", false},
		{"dGhlIHNhbXBsZSBub25jZSE=", false}, // 17 bytes
		{"dGhlIHNhbXBsZSBub25j", false},     // 15 bytes
		{"dGhlIHNhbXBsZSBub25jZQ-_", false}, // URL alphabet
		{"dGhlIHNhbXBsZSBub25j ZQ==", false},
		{" dGhlIHNhbXBsZSBub25jZQ=", false},
		{"dGhlIHNhbXBsZSBub25jZ\n==", false},
		{"dGhlIHNhbXBsZSBub25jZQ\r\n", false},
		{"dGhlIHNhbXBsZSBub25j=Q==", false},
		{"the sample nonce", false}, // the raw 16 bytes, not encoded
	} {
		if got := ValidKey(tc.key); got != tc.want {
			t.Errorf("ValidKey(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

// TestHeadErrorFindings: the findings about a head dissect/http1 could not
// parse quote its error, without the package's prefix.
func TestHeadErrorFindings(t *testing.T) {
	big := "X-Big: " + strings.Repeat("a", 300)
	for _, tc := range []struct {
		name  string
		steps []step
		want  string
	}{
		{"request field", []step{c2s([]byte("GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nBad Header\r\n\r\n")), s2c([]byte(response()))},
			`the upgrade request is not valid HTTP: malformed HTTP head at byte 70: field line "Bad Header" has no colon (RFC 9112 §5)`},
		{"request line", []step{c2s([]byte("GET /chat HTTP/1.1 x\r\nUpgrade: websocket\r\n\r\n"))},
			`the upgrade request is not valid HTTP: malformed HTTP head at byte 10: malformed HTTP-version "HTTP/1.1 x" (RFC 9112 §2.3)`},
		{"status", []step{c2s([]byte(request())), s2c([]byte("HTTP/1.1 1O1 Switching\r\n\r\n"))},
			`the upgrade response is not valid HTTP: malformed HTTP head at byte 9: status code "1O1 Switching" is not 3 digits (RFC 9112 §4)`},
		{"request too large", []step{c2s([]byte(request(big)))},
			"the upgrade request has more header fields or bytes than wscap reads (HTTP head too large); the connection is not decoded"},
		{"response too large", []step{c2s([]byte(request())), s2c([]byte(response(big)))},
			"the upgrade response has more header fields or bytes than wscap reads (HTTP head too large)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := runConn(t, Options{MaxHandshake: 256}, EndCaptureEnd, tc.steps...)
			var details []string
			for _, f := range rec.findings {
				if f.Detail == tc.want {
					return
				}
				details = append(details, f.Detail)
			}
			t.Errorf("no finding %q in %q", tc.want, details)
		})
	}
}

// TestHeadTooLargeSplit: a head over MaxHandshake gives the same findings
// and handshake record whether it arrives whole or in pieces, complete or
// not: the request of an upgrade, its response, and an ordinary request
// after a refused upgrade.
func TestHeadTooLargeSplit(t *testing.T) {
	opts := Options{MaxHandshake: 1024}
	big := "X-Big: " + strings.Repeat("a", 2000)
	refused := "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
	for _, tc := range []struct {
		name  string
		steps []step
		code  Code
	}{
		{"request", []step{c2s([]byte(request(big))), s2c([]byte(response()))}, CodeHandshakeTooLarge},
		{"request cut", []step{c2s([]byte(request(big)[:1800]))}, CodeHandshakeTooLarge},
		{"response", []step{c2s([]byte(request())), s2c([]byte(response(big)))}, CodeHandshakeTooLarge},
		{"after a refusal", []step{c2s([]byte(request())), s2c([]byte(refused)), c2s([]byte("GET / HTTP/1.1\r\n" + big + "\r\n\r\n"))}, CodeHandshakeTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			whole := runConn(t, opts, EndFIN, tc.steps...)
			if !hasCode(whole, tc.code) {
				t.Fatalf("no %s:\n%s", tc.code, strings.Join(whole.lines, "\n"))
			}
			for _, cut := range []byte{0, 6, 99, 255} {
				sameEvents(t, fmt.Sprintf("pieces of %d", cut+1), whole, runConn(t, opts, EndFIN, chunked([]byte{cut}, tc.steps...)...))
			}
		})
	}
}

// TestRequestBodyLength: an ordinary request's Content-Length is 1*DIGIT
// (RFC 9110 §8.6); a sign, a no-break space or a list is a length that
// cannot be known here, as a server refuses it.
func TestRequestBodyLength(t *testing.T) {
	for _, c := range []struct {
		fields string
		want   int64
	}{
		{"", 0},
		{"Content-Length: 12\r\n", 12},
		{"Content-Length:  007 \r\n", 7},
		{"Content-Length: 0\r\n", 0},
		{"Content-Length: +12\r\n", -1},
		{"Content-Length: -1\r\n", -1},
		{"Content-Length: 12\u00a0\r\n", -1},
		{"Content-Length: 1 2\r\n", -1},
		{"Content-Length: 12, 12\r\n", -1},
		{"Content-Length: 99999999999999999999\r\n", -1},
		{"Transfer-Encoding: chunked\r\n", -1},
	} {
		req, err := http1.ParseRequest([]byte("POST / HTTP/1.1\r\nHost: h\r\n"+c.fields+"\r\n"), 1<<16)
		if err != nil {
			t.Fatalf("%q: %v", c.fields, err)
		}
		if got := requestBodyLength(req); got != c.want {
			t.Errorf("%q: length %d, want %d", c.fields, got, c.want)
		}
	}
}
