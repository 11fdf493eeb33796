package dissect

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// TestRules has one case per rule: literal handshakes and frames that break
// it, and the exact codes (and so severities) expected. connection-open-at-end,
// reported for every case that ends without a close, is left out of want.
func TestRules(t *testing.T) {
	clean := []step{c2s(frames(client(OpClose, closePayload(1000, "")))), s2c(frames(server(OpClose, closePayload(1000, ""))))}
	closed := func(steps ...step) []step { return append(upgraded(steps...), clean...) }
	tests := []struct {
		name   string
		steps  []step
		reason EndReason
		want   []Code
	}{
		{"clean", closed(c2s(frames(client(OpText, "hi"))), s2c(frames(server(OpText, "hello")))), EndFIN, nil},
		// Handshake, RFC 6455 §4.1.
		{"method", []step{c2s([]byte(request("@POST /chat HTTP/1.1"))), s2c([]byte(response()))}, EndCaptureEnd, []Code{CodeMethodNotGet}},
		{"http/1.0", []step{c2s([]byte(request("@GET /chat HTTP/1.0"))), s2c([]byte(response()))}, EndCaptureEnd, []Code{CodeHTTPVersion}},
		{"no host", []step{c2s([]byte(request("-Host"))), s2c([]byte(response()))}, EndCaptureEnd, []Code{CodeHostMissing}},
		{"upgrade token", []step{c2s([]byte(request("Upgrade: h2c", "Sec-WebSocket-Key: "+testKeyB64))), s2c([]byte(response()))}, EndCaptureEnd, []Code{CodeUpgradeMissing}},
		// Tokens fold ASCII letters only: a Kelvin sign is not a "k" (nor a
		// long s an "s") to a server, so neither is it to wscap.
		{"upgrade token unicode fold", []step{c2s([]byte(request("Upgrade: websoc\u212aet"))), s2c([]byte(response()))}, EndCaptureEnd, []Code{CodeUpgradeMissing}},
		{"upgrade token ascii fold", []step{c2s([]byte(request("Upgrade: WebSocket"))), s2c([]byte(response("Upgrade: WEBSOCKET", "Connection: upgrade")))}, EndCaptureEnd, nil},
		{"connection token", []step{c2s([]byte(request("Connection: keep-alive"))), s2c([]byte(response()))}, EndCaptureEnd, []Code{CodeConnectionMissing}},
		{"connection list ok", []step{c2s([]byte(request("Connection: keep-alive, Upgrade"))), s2c([]byte(response()))}, EndCaptureEnd, nil},
		{"no key", []step{c2s([]byte(request("-Sec-WebSocket-Key"))), s2c([]byte(response()))}, EndCaptureEnd, []Code{CodeKeyMissing, CodeAcceptMismatch}},
		{"two keys", []step{c2s([]byte(request("X: y", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==")[:0] + strings.Replace(request(), "Sec-WebSocket-Version", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version", 1))), s2c([]byte(response()))}, EndCaptureEnd, []Code{CodeKeyDuplicate}},
		{"short key", []step{c2s([]byte(request("Sec-WebSocket-Key: c2hvcnQ="))), s2c([]byte(response("Sec-WebSocket-Accept: " + ComputeAccept("c2hvcnQ="))))}, EndCaptureEnd, []Code{CodeKeyInvalid}},
		{"no version", []step{c2s([]byte(request("-Sec-WebSocket-Version"))), s2c([]byte(response()))}, EndCaptureEnd, []Code{CodeVersionMissing}},
		{"version with a no-break space", []step{c2s([]byte(request("Sec-WebSocket-Version: 13\u00a0"))), s2c([]byte(response()))}, EndCaptureEnd, []Code{CodeVersionUnsupported}},
		{"version 8", []step{c2s([]byte(request("Sec-WebSocket-Version: 8"))), s2c([]byte(response()))}, EndCaptureEnd, []Code{CodeVersionUnsupported}},
		{"rejected 426", []step{c2s([]byte(request("Sec-WebSocket-Version: 8"))), s2c([]byte("HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"))}, EndFIN, []Code{CodeVersionUnsupported, CodeRejected}},
		{"malformed response", []step{c2s([]byte(request())), s2c([]byte("HTTP/1.1 1O1 Switching\r\n\r\n"))}, EndCaptureEnd, []Code{CodeMalformedHandshake}},
		{"response upgrade", []step{c2s([]byte(request())), s2c([]byte(response("Upgrade: foo")))}, EndCaptureEnd, []Code{CodeResponseUpgrade}},
		{"response connection", []step{c2s([]byte(request())), s2c([]byte(response("-Connection")))}, EndCaptureEnd, []Code{CodeResponseConnection}},
		{"accept missing", []step{c2s([]byte(request())), s2c([]byte(response("-Sec-WebSocket-Accept")))}, EndCaptureEnd, []Code{CodeAcceptMissing}},
		{"accept twice", []step{c2s([]byte(request())), s2c([]byte(strings.Replace(response(), "\r\n\r\n", "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", 1)))}, EndCaptureEnd, []Code{CodeAcceptDuplicate}},
		{"accept with a no-break space", []step{c2s([]byte(request())), s2c([]byte(response("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\u00a0")))}, EndCaptureEnd, []Code{CodeAcceptMismatch}},
		{"accept with OWS", []step{c2s([]byte(request())), s2c([]byte(response("Sec-WebSocket-Accept: \t s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \t")))}, EndCaptureEnd, nil},
		{"accept wrong", []step{c2s([]byte(request())), s2c([]byte(response("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOp=")))}, EndCaptureEnd, []Code{CodeAcceptMismatch}},
		{"subprotocol chosen", []step{c2s([]byte(request())), s2c([]byte(response("Sec-WebSocket-Protocol: chat")))}, EndCaptureEnd, nil},
		{"subprotocol not offered", []step{c2s([]byte(request())), s2c([]byte(response("Sec-WebSocket-Protocol: mqtt")))}, EndCaptureEnd, []Code{CodeSubprotocolNotOffered}},
		{"extension not offered", []step{c2s([]byte(request())), s2c([]byte(response("Sec-WebSocket-Extensions: permessage-deflate")))}, EndCaptureEnd, []Code{CodeExtensionNotOffered}},
		{"extension malformed", []step{c2s([]byte(request("Sec-WebSocket-Extensions: permessage-deflate;;"))), s2c([]byte(response()))}, EndCaptureEnd, []Code{CodeExtensionMalformed}},
		{"deflate param not offered", []step{c2s([]byte(request("Sec-WebSocket-Extensions: permessage-deflate"))), s2c([]byte(response("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10")))}, EndCaptureEnd, []Code{CodeDeflateNotOffered}},
		{"deflate param not a token", []step{c2s([]byte(request("Sec-WebSocket-Extensions: permessage-deflate"))), s2c([]byte(response("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_ta\u212aeover")))}, EndCaptureEnd, []Code{CodeExtensionMalformed}},
		{"deflate param bad", []step{c2s([]byte(request("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"))), s2c([]byte(response("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=16; foo")))}, EndCaptureEnd, []Code{CodeDeflateParam, CodeDeflateParam}},
		{"data before 101", []step{c2s([]byte(request())), c2s(frames(client(OpText, "early"))), s2c([]byte(response()))}, EndCaptureEnd, []Code{CodeDataBefore101}},
		{"no response", []step{c2s([]byte(request()))}, EndFIN, []Code{CodeNoResponse}},
		// Frames, RFC 6455 §5.
		{"rsv2", closed(c2s(frames(wsFrame{fin: true, rsv: 2, op: OpText, masked: true, payload: []byte("x")}))), EndFIN, []Code{CodeRSVNotNegotiated}},
		{"rsv1 without deflate", closed(s2c(frames(wsFrame{fin: true, rsv: 4, op: OpBinary, payload: []byte("x")}))), EndFIN, []Code{CodeRSVNotNegotiated}},
		{"reserved opcode 3", closed(c2s(frames(client(3, "x")))), EndFIN, []Code{CodeReservedOpcode}},
		{"reserved opcode 0xb", closed(s2c(frames(server(0xb, "")))), EndFIN, []Code{CodeReservedOpcode}},
		{"client unmasked", closed(c2s(frames(server(OpText, "plain")))), EndFIN, []Code{CodeClientUnmasked}},
		{"server masked", closed(s2c(frames(client(OpText, "masked")))), EndFIN, []Code{CodeServerMasked}},
		{"control 126 bytes", closed(s2c(frames(server(OpPing, strings.Repeat("p", 126))))), EndFIN, []Code{CodeControlTooLong}},
		{"control 125 bytes ok", closed(s2c(frames(server(OpPing, strings.Repeat("p", 125))))), EndFIN, nil},
		{"control fragmented", closed(s2c(frames(wsFrame{op: OpPing, payload: []byte("a")}))), EndFIN, []Code{CodeControlFragmented}},
		{"continuation alone", closed(s2c(frames(server(OpContinuation, "orphan")))), EndFIN, []Code{CodeContinuationNoMessage}},
		{"data inside message", closed(s2c(frames(wsFrame{op: OpText, payload: []byte("a")}, server(OpText, "b")))), EndFIN, []Code{CodeMessageInterleaved}},
		{"length not minimal 16", closed(s2c(frames(wsFrame{fin: true, op: OpText, payload: []byte("short"), lenBytes: 2}))), EndFIN, []Code{CodeLengthNotMinimal}},
		{"length not minimal 64", closed(s2c(frames(wsFrame{fin: true, op: OpText, payload: []byte("short"), lenBytes: 8}))), EndFIN, []Code{CodeLengthNotMinimal}},
		{"length msb", upgraded(s2c(frames(wsFrame{fin: true, op: OpBinary, length: 1 << 63}))), EndCaptureEnd, []Code{CodeLengthMSB}},
		{"length over max-frame", upgraded(s2c(frames(wsFrame{fin: true, op: OpBinary, length: 1<<62 - 1}))), EndCaptureEnd, []Code{CodeFrameCapped}},
		{"frame after close", append(upgraded(c2s(frames(client(OpClose, closePayload(1000, "")), client(OpText, "late")))), s2c(frames(server(OpClose, closePayload(1000, ""))))), EndFIN, []Code{CodeFrameAfterClose}},
		// Messages and closing, RFC 6455 §5.5.1, §7.4, §8.1.
		{"invalid utf8", closed(s2c(frames(server(OpText, "\xff\xfe")))), EndFIN, []Code{CodeInvalidUTF8}},
		{"utf8 split over fragments", closed(s2c(frames(wsFrame{op: OpText, payload: []byte("caf\xc3")}, server(OpContinuation, "\xa9")))), EndFIN, nil},
		{"close one byte", upgraded(c2s(frames(client(OpClose, "x"))), s2c(frames(server(OpClose, "")))), EndFIN, []Code{CodeClosePayloadOneByte}},
		{"close code 1005", upgraded(c2s(frames(client(OpClose, closePayload(1005, "")))), s2c(frames(server(OpClose, "")))), EndFIN, []Code{CodeCloseCodeInvalid}},
		{"close code 999", upgraded(c2s(frames(client(OpClose, closePayload(999, "")))), s2c(frames(server(OpClose, "")))), EndFIN, []Code{CodeCloseCodeInvalid}},
		{"close code 2000", upgraded(c2s(frames(client(OpClose, closePayload(2000, "")))), s2c(frames(server(OpClose, "")))), EndFIN, []Code{CodeCloseCodeInvalid}},
		{"close code 1015", upgraded(c2s(frames(client(OpClose, closePayload(1015, "")))), s2c(frames(server(OpClose, "")))), EndFIN, []Code{CodeCloseCodeInvalid}},
		{"close code 4999 ok", upgraded(c2s(frames(client(OpClose, closePayload(4999, "")))), s2c(frames(server(OpClose, "")))), EndFIN, nil},
		{"close code 1014 ok", upgraded(c2s(frames(client(OpClose, closePayload(1014, "")))), s2c(frames(server(OpClose, "")))), EndFIN, nil},
		{"close reason utf8", upgraded(c2s(frames(client(OpClose, closePayload(1000, "\xc3")))), s2c(frames(server(OpClose, "")))), EndFIN, []Code{CodeCloseReasonUTF8}},
		{"close unanswered", upgraded(c2s(frames(client(OpClose, closePayload(1000, ""))))), EndFIN, []Code{CodeCloseUnanswered}},
		{"close missing", upgraded(c2s(frames(client(OpText, "x")))), EndRST, []Code{CodeCloseMissing}},
		{"server closes first ok", upgraded(s2c(frames(server(OpClose, closePayload(1001, "going away")))), c2s(frames(client(OpClose, closePayload(1001, ""))))), EndFIN, nil},
		// permessage-deflate, RFC 7692.
		{"rsv1 on control", []step{c2s([]byte(request("Sec-WebSocket-Extensions: permessage-deflate"))), s2c([]byte(response("Sec-WebSocket-Extensions: permessage-deflate"))),
			s2c(frames(wsFrame{fin: true, rsv: 4, op: OpPing}))}, EndCaptureEnd, []Code{CodeRSV1Control}},
		{"rsv1 on continuation", []step{c2s([]byte(request("Sec-WebSocket-Extensions: permessage-deflate"))), s2c([]byte(response("Sec-WebSocket-Extensions: permessage-deflate"))),
			s2c(frames(wsFrame{op: OpText, payload: []byte("a")}, wsFrame{fin: true, rsv: 4, op: OpContinuation, payload: []byte("b")}))}, EndCaptureEnd, []Code{CodeRSV1Continuation}},
		{"inflate error", []step{c2s([]byte(request("Sec-WebSocket-Extensions: permessage-deflate"))), s2c([]byte(response("Sec-WebSocket-Extensions: permessage-deflate"))),
			s2c(frames(wsFrame{fin: true, rsv: 4, op: OpText, payload: []byte{0xff, 0xff, 0xff}}))}, EndCaptureEnd, []Code{CodeInflateError, CodeContextLost}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := runConn(t, Options{}, tc.reason, tc.steps...)
			var got []Code
			for _, f := range rec.findings {
				if f.Code == CodeOpenAtEnd {
					continue
				}
				got = append(got, f.Code)
				r, _ := RuleFor(f.Code)
				if f.Severity != r.Severity || f.RFC != r.RFC {
					t.Errorf("%s: severity %s rfc %q, the rule says %s %q", f.Code, f.Severity, f.RFC, r.Severity, r.RFC)
				}
				if f.Detail == "" {
					t.Errorf("%s: empty detail", f.Code)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("codes = %v, want %v\nevents:\n  %s", got, tc.want, strings.Join(rec.lines, "\n  "))
			}
		})
	}
}

// TestEveryRuleTested keeps Rules and the tests in step: every code but
// those exercised by the pipeline tests appears in TestRules above.
func TestEveryRuleDocumented(t *testing.T) {
	seen := map[Code]bool{}
	for _, r := range rules {
		if seen[r.Code] {
			t.Errorf("code %s listed twice", r.Code)
		}
		seen[r.Code] = true
		if r.Summary == "" {
			t.Errorf("code %s has no summary", r.Code)
		}
		for _, c := range r.Code {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				t.Errorf("code %s is not kebab-case", r.Code)
				break
			}
		}
	}
}

// TestCaps checks --max-message and --max-assembling on literal frames.
func TestCaps(t *testing.T) {
	big := strings.Repeat("x", 3000)
	t.Run("max-message", func(t *testing.T) {
		rec := runConn(t, Options{MaxMessage: 1000}, EndCaptureEnd, upgraded(s2c(frames(wsFrame{op: OpText, payload: []byte(big)}, server(OpContinuation, big))))...)
		m := rec.messages[0]
		if !m.Truncated || m.Length != 6000 || len(rec.payloads[0]) != 1000 || rec.codes()[0] != string(CodeMessageCapped) {
			t.Errorf("truncated=%v length=%d kept=%d codes=%v", m.Truncated, m.Length, len(rec.payloads[0]), rec.codes())
		}
	})
	t.Run("max-assembling", func(t *testing.T) {
		// Two connections each hold an open fragmented message: together
		// they pass the cap, so the second is truncated.
		rec := &recorder{}
		d := New(Options{MaxAssembling: 4000}, rec)
		var conns []*Conn
		for i := range 2 {
			c := d.NewConn(netip.MustParseAddrPort(fmt.Sprintf("10.0.0.%d:4000", i+1)), netip.MustParseAddrPort("10.0.0.9:80"), Pos{Pkt: 1})
			c.Data(ClientToServer, Pos{Pkt: 1}, []byte(request()))
			c.Data(ServerToClient, Pos{Pkt: 2}, []byte(response()))
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Data(ServerToClient, Pos{Pkt: 3}, frames(wsFrame{op: OpBinary, payload: []byte(big)}))
		}
		for _, c := range conns {
			c.Data(ServerToClient, Pos{Pkt: 4}, frames(server(OpContinuation, "")))
		}
		if len(rec.messages) != 2 || rec.messages[0].Truncated || !rec.messages[1].Truncated || len(rec.payloads[1]) != 1000 {
			t.Fatalf("events:\n%s", strings.Join(rec.lines, "\n"))
		}
		if !slices.Contains(rec.codes(), string(CodeAssemblyCapped)) || d.assembling != 0 {
			t.Errorf("codes %v, assembling %d after the messages ended", rec.codes(), d.assembling)
		}
	})
}
