package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExpectedFindings asserts the errors and warnings wscap reports for
// every bundled capture. Clean traffic has none; the ones that break the RFC
// say which rule, found by hand in the capture.
func TestExpectedFindings(t *testing.T) {
	want := map[string][]string{
		// Request with Sec-WebSocket-Key "c3VyaWNhdGEtdGVzdC1rZXkh" = "suricata-test-key!", 18 bytes.
		"public/suricata-verify/websocket-control-frag/input.pcap": {"handshake-key-invalid"},
		// The client's ping is not masked; the connection is reset without a Close.
		"public/suricata-verify/websocket-ping/input.pcap": {"frame-client-unmasked", "close-handshake-missing"},
		// The client sends Close, the server never answers before FIN.
		"public/zeek/broker-websocket.pcap": {"close-unanswered"},
		// A 258-byte Close frame with a 64-bit length: too long for a control
		// frame and not minimally encoded; never answered.
		"public/zeek/oversized-close-frame.pcapng": {"frame-length-not-minimal", "frame-control-too-long", "close-unanswered"},
		// Accept "N8ntNYkX6Qerw4tK3s/CYzpSZNc=-wrong"; then FIN without Close.
		"public/zeek/wrong-accept-header.pcap": {"handshake-accept-mismatch", "close-handshake-missing"},
		// wstunnel's client does not mask its frames.
		"public/zeek/wstunnel-http.pcap": {"frame-client-unmasked", "frame-client-unmasked"},
	}
	caps := publicCaptures(t)
	real, _ := filepath.Glob("../../testdata/real/*.pcap*")
	for _, capture := range append(caps, real...) {
		rel, _ := filepath.Rel("../../testdata", capture)
		rel = filepath.ToSlash(rel)
		t.Run(rel, func(t *testing.T) {
			args := append([]string{"read", "--format", "jsonl"}, forcedArgs(t, capture)...)
			out, _, _ := wscap(t, append(args, capture)...)
			var got []string
			for _, r := range records(t, out) {
				if r["kind"] == "finding" && r["severity"] != "info" {
					got = append(got, r["code"].(string))
				}
			}
			if !slices.Equal(got, want[rel]) {
				t.Errorf("findings %s, want %s", strings.Join(got, " "), strings.Join(want[rel], " "))
			}
		})
	}
}
