package main

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/wscap/wscap/internal/gen"
	"github.com/wscap/wscap/pcap"
)

// TestKeepAliveUpgrades: every upgrade request on a keep-alive connection
// is read, also after a refusal; each is a session with its own number;
// websocket_connections counts those that opened, rejected_upgrades the
// others.
func TestKeepAliveUpgrades(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int // of the upgrades, in order, on one TCP connection
		opened   float64
		rejected float64
	}{
		{"three refused", []int{426, 426, 403}, 0, 3},
		{"refused then accepted", []int{426, 101}, 1, 1},
		{"accepted", []int{101}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := gen.New(gen.Options{Seed: 9})
			conn := c.Conn(gen.ConnOptions{Client: netip.MustParseAddrPort("198.18.0.5:41000")})
			for _, st := range tc.statuses {
				conn.Handshake(gen.Handshake{Status: st, Path: "/chat"})
			}
			conn.Text(gen.FromServer, "hello")
			conn.Close(gen.FromClient, 1000, "")
			conn.Close(gen.FromServer, 1000, "")
			conn.Teardown()
			path := impairFile(t, c)
			out, stderr, code := wscap(t, "read", "--format", "jsonl", path)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var hs, conns []map[string]any
			var totals map[string]any
			for _, r := range records(t, out) {
				switch r["kind"] {
				case "handshake":
					hs = append(hs, r)
				case "connection":
					conns = append(conns, r)
				case "totals":
					totals = r
				}
			}
			if len(hs) != len(tc.statuses) || len(conns) != len(tc.statuses) {
				t.Fatalf("%d handshakes, %d connection records for %d upgrades:\n%s", len(hs), len(conns), len(tc.statuses), out)
			}
			for i, h := range hs {
				if h["status"] != float64(tc.statuses[i]) || h["conn"] != float64(i+1) || conns[i]["conn"] != float64(i+1) {
					t.Errorf("upgrade %d: handshake %v, connection %v", i+1, h, conns[i])
				}
				if want := tc.statuses[i] != 101; (conns[i]["end"] == "rejected") != want {
					t.Errorf("upgrade %d ended %v", i+1, conns[i]["end"])
				}
			}
			p := totals["protocols"].(map[string]any)
			if totals["websocket_connections"] != tc.opened || totals["rejected_upgrades"] != tc.rejected || p["websocket"] != tc.opened || p["http"] != 1-tc.opened {
				t.Errorf("totals %v", totals)
			}
			if tc.opened == 1 && !strings.Contains(out, `"text":"hello"`) {
				t.Errorf("the message after the accepted upgrade is missing")
			}
		})
	}
}

// TestSnaplen: captures cut to 96, 128 and 200 bytes a packet are decoded
// as far as their bytes go: the handshake from what is visible, every
// message of the whole capture with its opcode and length, exact payloads
// where they fit, the captured start of the others marked truncated, and
// compressed messages whose input was cut undecodable; no error finding.
func TestSnaplen(t *testing.T) {
	cuts, _ := filepath.Glob("../../testdata/snaplen/*.pcap")
	if len(cuts) < 12 {
		t.Fatalf("%d snaplen captures", len(cuts))
	}
	for _, cut := range cuts {
		name := filepath.Base(cut)
		src := "../../testdata/real/" + name[:strings.LastIndex(name, "-s")] + ".pcap"
		t.Run(name, func(t *testing.T) {
			whole, _, _ := wscap(t, "read", "--format", "jsonl", src)
			out, stderr, code := wscap(t, "read", "--format", "jsonl", cut)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			kinds := func(out string, kind string) []map[string]any {
				var rs []map[string]any
				for _, r := range records(t, out) {
					if r["kind"] == kind {
						rs = append(rs, r)
					}
				}
				return rs
			}
			// Messages are compared per direction, in order: a message whose
			// end was cut is only known to be over when the next frame
			// header shows, so the two directions' records may interleave
			// differently.
			exact := 0
			for _, from := range []string{"client", "server"} {
				var want, got []map[string]any
				for _, r := range kinds(whole, "message") {
					if r["from"] == from {
						want = append(want, r)
					}
				}
				for _, r := range kinds(out, "message") {
					if r["from"] == from {
						got = append(got, r)
					}
				}
				if len(got) != len(want) || len(want) == 0 {
					t.Fatalf("%s: %d messages, the whole capture has %d", from, len(got), len(want))
				}
				for i, w := range want {
					g := got[i]
					brief := func(r map[string]any) string {
						return fmt.Sprintf("%v %v frames=%v length=%v wire=%v incomplete=%v truncated=%v undecodable=%v", r["from"], r["opcode"], r["frames"], r["length"], r["wire_length"], r["incomplete"], r["truncated"], r["undecodable"])
					}
					switch {
					case g["opcode"] != w["opcode"]:
					case g["undecodable"] == true:
						// Compressed, and cut, or depending on the history
						// of one that was (a deflate-context-lost finding
						// says so).
						if g["compressed"] == true && w["compressed"] == true && g["frames"].(float64) <= w["frames"].(float64) && strings.Contains(out, `"code":"deflate-context-lost"`) {
							continue
						}
					case g["incomplete"] == true:
						gs, ws := payloadOf(g), payloadOf(w)
						if g["truncated"] == true && g["length"] == w["length"] && len(gs) < len(ws) && strings.HasPrefix(ws, gs[:min(len(gs), 8)]) {
							continue
						}
					case payloadOf(g) == payloadOf(w) && g["length"] == w["length"] && g["frames"] == w["frames"]:
						exact++
						continue
					}
					t.Errorf("%s message %d: %s, whole capture: %s", from, i+1, brief(g), brief(w))
				}
			}
			if exact == 0 {
				t.Errorf("no message decoded exactly")
			}
			for _, f := range kinds(out, "finding") {
				if f["severity"] == "error" {
					t.Errorf("error finding on a cut capture: %v", f)
				}
			}
			if hs := kinds(out, "handshake"); len(hs) != 1 || hs[0]["captured"] != true || hs[0]["status"] != float64(101) {
				t.Errorf("handshake %v", hs)
			}
		})
	}
}

// payloadOf is a message record's payload as text (data decoded).
func payloadOf(r map[string]any) string {
	if s, ok := r["text"].(string); ok {
		return s
	}
	s, _ := r["data"].(string)
	b, _ := base64.StdEncoding.DecodeString(s)
	return string(b)
}

// copyPackets copies the TCP packets of the capture at path for which
// keep reports true; keep may change the payload in place.
func copyPackets(t *testing.T, path string, keep func(tcp *layers.TCP, flow [2]string) bool) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	o, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	w := pcapgo.NewWriter(o)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.NoCopy)
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || p.NetworkLayer() == nil {
			continue
		}
		a := p.NetworkLayer().NetworkFlow().Src().String() + ":" + tcp.SrcPort.String()
		b := p.NetworkLayer().NetworkFlow().Dst().String() + ":" + tcp.DstPort.String()
		if a > b {
			a, b = b, a
		}
		if keep(tcp, [2]string{a, b}) {
			w.WritePacket(ci, data)
		}
	}
	return out
}

// midStream copies the capture at path so that every TCP connection
// starts mid-stream: its packets before its skip-th packet with payload
// are left out (SYNs included).
func midStream(t *testing.T, path string, skip int) string {
	seen := map[[2]string]int{}
	return copyPackets(t, path, func(tcp *layers.TCP, flow [2]string) bool {
		if len(tcp.Payload) > 0 {
			seen[flow]++
		}
		return seen[flow] >= skip
	})
}

// TestNoFalseWebSocket: captures of real non-WebSocket traffic made by real
// programs (testdata/nonws/README.md: TLS 1.2 and 1.3 from OpenSSL, Go,
// node and Chromium, HTTP/1.1, h2c, gRPC, SSH, Redis, PostgreSQL, MQTT, DNS
// over TCP, memcached, random bytes) hold no WebSocket, whole and with
// every connection cut to start mid-stream; the capture where a real
// WebSocket runs beside such traffic holds exactly that one.
func TestNoFalseWebSocket(t *testing.T) {
	caps, _ := filepath.Glob("../../testdata/nonws/*.pcap")
	if len(caps) < 17 {
		t.Fatalf("%d captures in testdata/nonws", len(caps))
	}
	for _, c := range caps {
		mixed := strings.HasSuffix(c, "/mixed.pcap")
		for _, skip := range []int{0, 1, 2, 3, 5} {
			path := c
			if skip > 0 {
				path = midStream(t, c, skip)
			}
			out, stderr, code := wscap(t, "read", "--format", "jsonl", path)
			if code != exitOK {
				t.Fatalf("%s: exit %d: %s", path, code, stderr)
			}
			var conns []map[string]any
			msgs := map[string]int{}
			for _, r := range records(t, out) {
				switch r["kind"] {
				case "connection":
					conns = append(conns, r)
				case "message":
					msgs[r["from"].(string)]++
				}
			}
			switch {
			case !mixed && len(conns) != 0:
				t.Errorf("%s (mid-stream from payload packet %d): %d false WebSocket connections: %v", filepath.Base(c), skip, len(conns), conns[0])
			case mixed && len(conns) != 1:
				t.Errorf("mixed.pcap (mid-stream from payload packet %d): %d WebSocket connections, want 1", skip, len(conns))
			case mixed && skip == 0 && (msgs["client"] != 11 || msgs["server"] != 12):
				// 10 messages and a Close from the client, 11 and a Close
				// from the server (testdata/nonws/README.md).
				t.Errorf("mixed.pcap: %v messages", msgs)
			}
		}
	}
}

// TestWSS: a headless Chromium's wss:// session (testdata/nonws/README.md)
// decrypted with the key log it wrote: every message both peers sent; the
// handshake says what TLS carried it. Without keys, or with the wrong
// ones, the note says what to do; a flipped ciphertext byte costs one
// record, reported, and the rest decodes.
func TestWSS(t *testing.T) {
	const capture, keys = "../../testdata/nonws/wss-chromium.pcap", "../../testdata/nonws/wss-chromium.keys"
	decode := func(t *testing.T, args ...string) (msgs map[string]int, hs, totals map[string]any, codes []string, stderr string) {
		t.Helper()
		out, stderr, code := wscap(t, append([]string{"read", "--format", "jsonl"}, args...)...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		msgs = map[string]int{}
		for _, r := range records(t, out) {
			switch r["kind"] {
			case "message":
				msgs[r["from"].(string)]++
			case "handshake":
				hs = r
			case "finding":
				codes = append(codes, r["code"].(string))
			case "totals":
				totals = r
			}
		}
		return msgs, hs, totals, codes, stderr
	}
	t.Run("keys", func(t *testing.T) {
		msgs, hs, totals, codes, _ := decode(t, "--keylog", keys, capture)
		// Chromium sent 5 messages and a Close, the server 6 and a Close.
		if msgs["client"] != 6 || msgs["server"] != 7 || len(codes) != 0 {
			t.Errorf("messages %v, findings %v", msgs, codes)
		}
		x, _ := hs["tls"].(map[string]any)
		if x["version"] != "TLS 1.3" || x["decrypted"] != true || x["sni"] != "localhost" || hs["accept_valid"] != true {
			t.Errorf("handshake %v", hs)
		}
		if totals["websocket_connections"] != 1.0 || totals["tls_decrypted"] != 3.0 {
			t.Errorf("totals %v", totals)
		}
	})
	t.Run("embedded", func(t *testing.T) {
		// The same capture with the key log in a pcapng Decryption Secrets
		// Block (editcap --inject-secrets): no flag needed.
		msgs, hs, _, codes, _ := decode(t, "../../testdata/nonws/wss-chromium-dsb.pcapng")
		if msgs["client"] != 6 || msgs["server"] != 7 || len(codes) != 0 || hs["tls"] == nil {
			t.Errorf("messages %v, findings %v, handshake %v", msgs, codes, hs)
		}
	})
	t.Run("write-pcap", func(t *testing.T) {
		// The export embeds the secrets the decoding used: it reads
		// decrypted without --keylog (and opens decrypted in Wireshark).
		out := filepath.Join(t.TempDir(), "export.pcapng")
		if _, stderr, code := wscap(t, "read", "--keylog", keys, "--write-pcap", out, capture); code != exitOK {
			t.Fatalf("export: exit %d: %s", code, stderr)
		}
		msgs, hs, _, _, _ := decode(t, out)
		if msgs["client"] != 6 || msgs["server"] != 7 || hs["tls"] == nil {
			t.Errorf("re-read: messages %v, handshake %v", msgs, hs)
		}
		f, _ := os.Open(out)
		defer f.Close()
		blobs, err := pcap.DecryptionSecrets(f)
		if err != nil || len(blobs) != 1 || !strings.Contains(string(blobs[0]), "CLIENT_TRAFFIC_SECRET_0 ") {
			t.Errorf("embedded secrets: %d blocks, %v", len(blobs), err)
		}
	})
	t.Run("no keys", func(t *testing.T) {
		msgs, _, totals, _, stderr := decode(t, capture)
		if len(msgs) != 0 || totals["websocket_connections"] != 0.0 || !strings.Contains(stderr, "--keylog") {
			t.Errorf("messages %v, totals %v, stderr %q", msgs, totals, stderr)
		}
	})
	t.Run("wrong keys", func(t *testing.T) {
		msgs, _, totals, _, stderr := decode(t, "--keylog", "../../testdata/nonws/tls-chromium.keys", capture)
		if len(msgs) != 0 || totals["tls_no_key"] != 3.0 || !strings.Contains(stderr, "had no secret in the key log (client randoms ") {
			t.Errorf("messages %v, totals %v, stderr %q", msgs, totals, stderr)
		}
	})
	t.Run("flipped byte", func(t *testing.T) {
		// Flip the last byte (inside the AEAD tag) of the server's record
		// that echoes "hello from chromium 1" (the only 45-byte segment the
		// server sends): that record no longer authenticates.
		path := rewritePayload(t, capture, func(src string, payload []byte) bool {
			if src == "14436" && len(payload) == 45 {
				payload[len(payload)-1] ^= 1
				return true
			}
			return false
		})
		msgs, _, _, codes, _ := decode(t, "--keylog", keys, path)
		if strings.Count(strings.Join(codes, " "), "tls-record-unauthentic") != 1 || msgs["client"] != 6 || msgs["server"] != 6 {
			t.Errorf("messages %v, findings %v", msgs, codes)
		}
	})
}

// rewritePayload copies the capture at path, calling edit with the source
// port and the payload of each packet carrying TCP payload, until it
// reports that it changed one (in place).
func rewritePayload(t *testing.T, path string, edit func(src string, payload []byte) bool) string {
	t.Helper()
	edited := false
	out := copyPackets(t, path, func(tcp *layers.TCP, _ [2]string) bool {
		if !edited && len(tcp.Payload) > 0 {
			edited = edit(tcp.SrcPort.String(), tcp.Payload)
		}
		return true
	})
	if !edited {
		t.Fatal("no packet edited")
	}
	return out
}

// TestTLSHellos: without keys, a TLS connection is still described from
// its clear-text hellos: server name, version, cipher suite, ALPN.
func TestTLSHellos(t *testing.T) {
	out, _, _ := wscap(t, "read", "--format", "jsonl", "../../testdata/nonws/tls12-openssl.pcap", "../../testdata/nonws/tls-chromium.pcap")
	recs := records(t, out)
	tot := recs[len(recs)-1]
	v, _ := tot["tls_versions"].(map[string]any)
	cs, _ := tot["tls_cipher_suites"].(map[string]any)
	alpn, _ := tot["tls_alpn"].(map[string]any)
	// OpenSSL: 4 TLS 1.2 connections, two with ECDHE-RSA-AES256-GCM, one
	// ChaCha20, one RSA AES128-GCM; Chromium: 2 TLS 1.3 offering h2.
	if v["TLS 1.2"] != 4.0 || v["TLS 1.3"] != 2.0 || cs["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"] != 1.0 || cs["TLS_RSA_WITH_AES_128_GCM_SHA256"] != 1.0 || alpn["h2 (offered)"] != 2.0 {
		t.Errorf("totals %v", tot)
	}
}

// TestIdleTimeoutLaterTraffic: with --idle-timeout, a WebSocket connection
// that goes quiet ends; when it speaks again, its later messages are a new
// connection that continues it, decoded from the first frame on.
func TestIdleTimeoutLaterTraffic(t *testing.T) {
	c := gen.New(gen.Options{Seed: 4})
	conn := c.Conn(gen.ConnOptions{Client: netip.MustParseAddrPort("198.18.0.9:41000")})
	conn.Handshake(gen.Handshake{})
	conn.Text(gen.FromClient, "before")
	conn.Text(gen.FromServer, "before too")
	conn.Wait(5 * time.Second)
	conn.Text(gen.FromServer, "after") // one message: too little for the mid-stream probe alone
	conn.Teardown()
	path := impairFile(t, c)
	whole, _, _ := wscap(t, "read", "--format", "jsonl", path)
	out, stderr, code := wscap(t, "read", "--format", "jsonl", "--idle-timeout", "1s", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var texts []string
	var ends []string
	for _, r := range records(t, out) {
		switch r["kind"] {
		case "message":
			if s, ok := r["text"].(string); ok {
				texts = append(texts, s)
			}
		case "connection":
			ends = append(ends, r["end"].(string))
		}
	}
	if strings.Join(texts, "|") != "before|before too|after" || len(ends) != 2 || ends[0] != "idle-timeout" {
		t.Errorf("texts %q, ends %v", texts, ends)
	}
	if n, m := strings.Count(whole, `"kind":"message"`), strings.Count(out, `"kind":"message"`); n != m {
		t.Errorf("%d messages with --idle-timeout, %d without", m, n)
	}
}
