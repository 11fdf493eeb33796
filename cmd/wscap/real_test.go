package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sentMessage is one message a program sent, as recorded next to each
// capture in testdata/real (see its README).
type sentMessage struct {
	From        string `json:"from"`
	Opcode      string `json:"opcode"`
	Data        string `json:"data_b64"`
	Compressed  *bool  `json:"compressed"`
	CloseCode   int    `json:"close_code"`
	CloseReason string `json:"close_reason"`
}

// TestRealLibraries checks that wscap decodes, per direction and in order,
// exactly the messages that real WebSocket implementations sent over
// loopback: every negotiation of permessage-deflate, fragments, control
// frames between fragments, all length encodings, IPv6.
func TestRealLibraries(t *testing.T) {
	specs, _ := filepath.Glob("../../testdata/real/*.json")
	if len(specs) < 8 {
		t.Fatalf("only %d real captures", len(specs))
	}
	for _, spec := range specs {
		t.Run(filepath.Base(spec), func(t *testing.T) {
			var meta struct {
				Capture  string        `json:"capture"`
				Messages []sentMessage `json:"messages"`
			}
			b, err := os.ReadFile(spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &meta); err != nil {
				t.Fatal(err)
			}
			want := map[string][]string{}
			for _, m := range meta.Messages {
				data, _ := base64.StdEncoding.DecodeString(m.Data)
				s := fmt.Sprintf("%s %x", m.Opcode, data)
				if m.Opcode == "close" {
					s = fmt.Sprintf("close %d %q", m.CloseCode, m.CloseReason)
				}
				if m.Compressed != nil && *m.Compressed {
					s += " compressed"
				}
				want[m.From] = append(want[m.From], s)
			}
			out, stderr, code := wscap(t, "read", "--format", "jsonl", filepath.Join(filepath.Dir(spec), meta.Capture))
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			got := map[string][]string{}
			for _, r := range records(t, out) {
				switch r["kind"] {
				case "message":
					s := fmt.Sprintf("%s %s", r["opcode"], payloadHex(r))
					if r["opcode"] == "close" {
						cc, _ := r["close_code"].(float64)
						reason, _ := r["close_reason"].(string)
						if cc == 0 {
							cc = 1005 // no status code (RFC 6455 §7.1.5)
						}
						s = fmt.Sprintf("close %d %q", int(cc), reason)
					}
					if r["compressed"] == true {
						s += " compressed"
					}
					if r["undecodable"] == true || r["incomplete"] == true || r["truncated"] == true {
						s += " NOT DECODED"
					}
					got[r["from"].(string)] = append(got[r["from"].(string)], s)
				case "finding":
					if r["severity"] != "info" {
						t.Errorf("finding on real traffic: %v", r)
					}
				}
			}
			for _, from := range []string{"client", "server"} {
				g, w := got[from], want[from]
				// The recorder notes compression only where it knows it.
				for i := range min(len(g), len(w)) {
					if !strings.HasSuffix(w[i], " compressed") {
						g[i] = strings.TrimSuffix(g[i], " compressed")
					}
				}
				if strings.Join(g, "\n") != strings.Join(w, "\n") {
					t.Errorf("%s messages differ:\n got %d: %.300s\nwant %d: %.300s", from, len(g), strings.Join(g, " | "), len(w), strings.Join(w, " | "))
				}
			}
		})
	}
}
