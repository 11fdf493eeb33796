package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wscap/wscap/pcap"
)

// cutCapture writes the packets of in from number first (1-based) on to a
// new pcapng file: a capture started late.
func cutCapture(t *testing.T, in string, first int) string {
	t.Helper()
	src, err := pcap.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	name := filepath.Join(t.TempDir(), "cut.pcapng")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pcap.NewNgWriter(f, pcap.NgWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; ; n++ {
		rec, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n >= first {
			if err := w.WritePacket(rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestTLSMidstream: a wss:// capture (Chromium, TLS 1.3, AES-256-GCM) that
// starts after the TLS handshake and the upgrade is decrypted by trying the
// key log's traffic secrets, and its WebSocket found mid-stream; without
// the connection's secrets, the finding says what was tried.
func TestTLSMidstream(t *testing.T) {
	const capture, keys = "../../testdata/nonws/wss-chromium.pcap", "../../testdata/nonws/wss-chromium.keys"
	full, _, code := wscap(t, "read", "--format", "jsonl", "--keylog", keys, capture)
	if code != exitOK {
		t.Fatal(code)
	}
	for _, c := range []struct {
		name  string
		first int // the first packet kept
	}{{"after the upgrade", 36}, {"both sides several records in", 42}} {
		t.Run(c.name, func(t *testing.T) {
			cut := cutCapture(t, capture, c.first)
			out, stderr, code := wscap(t, "read", "--format", "jsonl", "--keylog", keys, cut)
			if code != exitOK {
				t.Fatalf("status %d: %s", code, stderr)
			}
			var want, got []string
			for _, r := range records(t, full) {
				if r["kind"] == "message" && int(r["pkt"].(float64)) >= c.first {
					want = append(want, r["from"].(string)+" "+r["opcode"].(string)+" "+stringOr(r["text"], r["data"]))
				}
			}
			var midstream, handshake map[string]any
			for _, r := range records(t, out) {
				switch r["kind"] {
				case "message":
					got = append(got, r["from"].(string)+" "+r["opcode"].(string)+" "+stringOr(r["text"], r["data"]))
				case "finding":
					if r["code"] == "tls-midstream" && midstream == nil {
						midstream = r
					}
				case "handshake":
					handshake = r
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if midstream == nil || !strings.Contains(midstream["detail"].(string), "TLS_AES_256_GCM_SHA384") || !strings.Contains(midstream["detail"].(string), "of client random ") {
				t.Errorf("tls-midstream finding: %v", midstream)
			}
			tlsInfo, _ := handshake["tls"].(map[string]any)
			if handshake == nil || handshake["captured"] != false || tlsInfo["version"] != "TLS 1.3" || tlsInfo["decrypted"] != true {
				t.Errorf("handshake record: %v", handshake)
			}
			// Not the connection's secrets: what was tried is said.
			_, stderr, _ = wscap(t, "read", "--format", "jsonl", "--keylog", "../../testdata/nonws/tls13-go.keys", cut)
			if !strings.Contains(stderr, "no WebSocket found") {
				t.Errorf("with another key log: %s", stderr)
			}
			out, _, _ = wscap(t, "stats", "--format", "jsonl", "--keylog", "../../testdata/nonws/tls13-go.keys", cut)
			if !strings.Contains(out, `"tls_no_key":`) {
				t.Errorf("stats with another key log: %s", out)
			}
		})
	}
}

func stringOr(a, b any) string {
	if s, ok := a.(string); ok {
		return s
	}
	s, _ := b.(string)
	return s
}
