package dissect

import (
	"bytes"
	"compress/flate"
	"fmt"
	"strings"
	"testing"
)

func deflateSteps(reqExt, respExt string, steps ...step) []step {
	return append([]step{c2s([]byte(request("Sec-WebSocket-Extensions: " + reqExt))),
		s2c([]byte(response("Sec-WebSocket-Extensions: " + respExt)))}, steps...)
}

func zframe(fin bool, op Opcode, masked bool, payload []byte) wsFrame {
	return wsFrame{fin: fin, rsv: 4, op: op, masked: masked, payload: payload}
}

// TestDeflate decodes permessage-deflate conversations built with a real
// compressor, per negotiation (RFC 7692 §7.2).
func TestDeflate(t *testing.T) {
	msgs := []string{strings.Repeat("hello deflate ", 20), strings.Repeat("hello deflate ", 21), "hello deflate hello deflate!"}

	// Context takeover: one compressor per direction across messages.
	takeover := func() []step {
		cz, sz := newCompressor(), newCompressor()
		var st []step
		for _, m := range msgs {
			st = append(st, c2s(frames(zframe(true, OpText, true, cz.compress(m)))), s2c(frames(zframe(true, OpText, false, sz.compress(m)))))
		}
		return st
	}
	// No context takeover in direction dir: a fresh compressor per message.
	mixed := func(resetClient, resetServer bool) []step {
		cz, sz := newCompressor(), newCompressor()
		var st []step
		for _, m := range msgs {
			if resetClient {
				cz = newCompressor()
			}
			if resetServer {
				sz = newCompressor()
			}
			st = append(st, c2s(frames(zframe(true, OpText, true, cz.compress(m)))), s2c(frames(zframe(true, OpText, false, sz.compress(m)))))
		}
		return st
	}
	var want []string
	for _, m := range msgs {
		want = append(want, "client "+m, "server "+m)
	}
	tests := []struct {
		name    string
		steps   []step
		want    []string
		noFinds bool
	}{
		{"takeover both", deflateSteps("permessage-deflate; client_max_window_bits", "permessage-deflate", takeover()...), want, true},
		{"server_no_context_takeover", deflateSteps("permessage-deflate", "permessage-deflate; server_no_context_takeover", mixed(false, true)...), want, true},
		{"client_no_context_takeover", deflateSteps("permessage-deflate", "permessage-deflate; client_no_context_takeover", mixed(true, false)...), want, true},
		{"both no_context_takeover", deflateSteps("permessage-deflate", "permessage-deflate; client_no_context_takeover; server_no_context_takeover", mixed(true, true)...), want, true},
		{"fragmented compressed", func() []step {
			z := newCompressor().compress(msgs[0])
			return deflateSteps("permessage-deflate", "permessage-deflate", s2c(frames(zframe(false, OpText, false, z[:3]),
				server(OpPing, "in between"), wsFrame{op: OpContinuation, payload: z[3:7]}, wsFrame{fin: true, op: OpContinuation, payload: z[7:]})))
		}(), []string{"server in between", "server " + msgs[0]}, true},
		{"compressed then plain", func() []step {
			z := newCompressor().compress(msgs[0])
			return deflateSteps("permessage-deflate", "permessage-deflate", s2c(frames(zframe(true, OpText, false, z), server(OpText, "plain"))))
		}(), []string{"server " + msgs[0], "server plain"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := runConn(t, Options{}, EndCaptureEnd, tc.steps...)
			var got []string
			for i, m := range rec.messages {
				got = append(got, m.From.String()+" "+string(rec.payloads[i]))
				if m.Undecodable {
					t.Errorf("message %d undecodable", i)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s\nevents:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"), strings.Join(rec.lines, "\n"))
			}
			for _, f := range rec.findings {
				if f.Code != CodeOpenAtEnd {
					t.Errorf("finding %s: %s", f.Code, f.Detail)
				}
			}
		})
	}
}

// TestDeflateWrongDirection shows why the direction of no_context_takeover
// matters: a takeover stream read as if reset per message fails, and is
// reported, rather than printing garbage.
func TestDeflateWrongDirection(t *testing.T) {
	sz := newCompressor()
	a, b := sz.compress(strings.Repeat("abcdefgh", 50)), sz.compress(strings.Repeat("abcdefgh", 50))
	rec := runConn(t, Options{}, EndCaptureEnd, deflateSteps("permessage-deflate", "permessage-deflate; server_no_context_takeover",
		s2c(frames(zframe(true, OpText, false, a), zframe(true, OpText, false, b))))...)
	if len(rec.messages) != 2 || rec.messages[0].Undecodable || !rec.messages[1].Undecodable {
		t.Fatalf("want the second message undecodable:\n%s", strings.Join(rec.lines, "\n"))
	}
	if rec.codes()[0] != string(CodeInflateError) {
		t.Errorf("findings %v, want %s first", rec.codes(), CodeInflateError)
	}
}

// TestDeflateBomb inflates a message of a few KiB to 200 MiB with a cap of
// 1 MiB: the kept payload is capped, the length is right, and the context
// stays usable for the next message (with no bound on the ratio:
// TestInflateBudget has those).
func TestDeflateBomb(t *testing.T) {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 200 {
		w.Write(zeros)
	}
	w.Flush()
	bomb := bytes.TrimSuffix(bytes.Clone(buf.Bytes()), []byte{0, 0, 0xff, 0xff})
	buf.Reset()
	w.Write([]byte("after the bomb"))
	w.Flush()
	next := bytes.TrimSuffix(bytes.Clone(buf.Bytes()), []byte{0, 0, 0xff, 0xff})
	t.Logf("bomb: %d wire bytes", len(bomb))
	rec := runConn(t, Options{MaxMessage: 1 << 20, MaxInflateRatio: -1}, EndCaptureEnd, deflateSteps("permessage-deflate", "permessage-deflate",
		s2c(frames(zframe(true, OpBinary, false, bomb), zframe(true, OpText, false, next))))...)
	if len(rec.messages) != 2 {
		t.Fatalf("events:\n%s", strings.Join(rec.lines, "\n"))
	}
	m := rec.messages[0]
	if !m.Truncated || m.Length != 200<<20 || len(rec.payloads[0]) != 1<<20 {
		t.Errorf("bomb message: truncated=%v length=%d kept=%d", m.Truncated, m.Length, len(rec.payloads[0]))
	}
	if string(rec.payloads[1]) != "after the bomb" {
		t.Errorf("next message %q", rec.payloads[1])
	}
	if rec.codes()[0] != string(CodeMessageCapped) {
		t.Errorf("findings %v", rec.codes())
	}
}

// TestDeflateAfterGap: a loss in a takeover direction makes later messages
// undecodable (reported once), never garbage; a message that refers only to
// itself decodes again.
func TestDeflateAfterGap(t *testing.T) {
	sz := newCompressor()
	m1 := sz.compress(strings.Repeat("context ", 40))
	lost := frames(zframe(true, OpText, false, sz.compress(strings.Repeat("lost lost ", 30))))
	m3 := sz.compress(strings.Repeat("context lost ", 10)) // refers back into the lost message
	fresh := newCompressor().compress("brand new words, no history needed")
	rec := runConn(t, Options{}, EndCaptureEnd, deflateSteps("permessage-deflate", "permessage-deflate",
		s2c(frames(zframe(true, OpText, false, m1))), step{dir: ServerToClient, gap: int64(len(lost))},
		s2c(frames(zframe(true, OpText, false, m3))), s2c(frames(zframe(true, OpText, false, fresh))))...)
	var got []string
	for i, m := range rec.messages {
		if m.Undecodable {
			got = append(got, "undecodable")
		} else {
			got = append(got, string(rec.payloads[i]))
		}
	}
	want := []string{strings.Repeat("context ", 40), "undecodable", "brand new words, no history needed"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q\n%s", got, want, strings.Join(rec.lines, "\n"))
	}
	n := 0
	for _, c := range rec.codes() {
		if c == string(CodeContextLost) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("context-lost reported %d times: %v", n, rec.codes())
	}
}

// TestDeflateFrame decodes x-webkit-deflate-frame, where every frame with
// RSV1 is compressed on its own, with context takeover across frames.
func TestDeflateFrame(t *testing.T) {
	z := newCompressor()
	a, b := z.compress("hello frame one, "), z.compress("hello frame two")
	c := z.compress(strings.Repeat("hello frame one, ", 3))
	rec := runConn(t, Options{}, EndCaptureEnd, deflateSteps("x-webkit-deflate-frame", "x-webkit-deflate-frame",
		s2c(frames(zframe(false, OpText, false, a), zframe(true, OpContinuation, false, b))),
		s2c(frames(zframe(true, OpText, false, c))),
		s2c(frames(server(OpText, "plain"))))...)
	var got []string
	for i, m := range rec.messages {
		got = append(got, fmt.Sprintf("%s z=%v len=%d", rec.payloads[i], m.Compressed, m.Length))
	}
	want := []string{"hello frame one, hello frame two z=true len=32", strings.Repeat("hello frame one, ", 3) + " z=true len=51", "plain z=false len=5"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q\n%s", got, want, strings.Join(rec.lines, "\n"))
	}
	for _, f := range rec.findings {
		if f.Code != CodeOpenAtEnd {
			t.Errorf("finding %s: %s", f.Code, f.Detail)
		}
	}
}

// TestInflateBudget: what decompression may create is bounded per
// connection (a ratio past a grace) and per Dissector (a total); past a
// bound the message and every later compressed message of the connection
// are not inflated, with one cap-inflate finding.
func TestInflateBudget(t *testing.T) {
	zeros := strings.Repeat("\x00", 1<<20)
	for _, tc := range []struct {
		name     string
		opts     Options
		messages int
		inflated int    // messages inflated whole
		detail   string // in the finding; "" for none
	}{
		// A MiB of zeros compresses ~1000:1 and, under context takeover,
		// its repeats to less.
		{"ratio", Options{}, 20, inflateGrace >> 20, "Options.MaxInflateRatio"},
		{"ratio off", Options{MaxInflateRatio: -1}, 20, 20, ""},
		{"a lenient ratio", Options{MaxInflateRatio: 1 << 30}, 20, 20, ""},
		{"total", Options{MaxInflateRatio: -1, MaxInflateTotal: 5<<20 + 1}, 20, 5, "Options.MaxInflateTotal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := newCompressor()
			var fs []wsFrame
			for range tc.messages {
				fs = append(fs, zframe(true, OpBinary, false, z.compress(zeros)))
			}
			fs = append(fs, zframe(true, OpText, false, z.compress("after")))
			rec := runConn(t, tc.opts, EndCaptureEnd, deflateSteps("permessage-deflate", "permessage-deflate", s2c(frames(fs...)))...)
			whole, undecodable := 0, 0
			for _, m := range rec.messages {
				switch {
				case m.Undecodable:
					undecodable++
				case m.Opcode == OpBinary && m.Length == 1<<20 && !m.Truncated:
					whole++
				}
			}
			want := 0
			if tc.inflated < tc.messages {
				want = tc.messages + 1 - tc.inflated
			}
			if whole != tc.inflated || undecodable != want {
				t.Errorf("%d inflated whole, %d undecodable; want %d and %d", whole, undecodable, tc.inflated, want)
			}
			var found []string
			for _, f := range rec.findings {
				if f.Code == CodeInflateCapped {
					found = append(found, f.Detail)
				}
			}
			switch {
			case tc.detail == "" && len(found) > 0:
				t.Errorf("findings %q", found)
			case tc.detail != "" && (len(found) != 1 || !strings.Contains(found[0], tc.detail)):
				t.Errorf("findings %q, want one naming %s", found, tc.detail)
			}
		})
	}
}
