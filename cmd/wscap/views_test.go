package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wscap/wscap/internal/gen"
)

// TestViewsGolden compares stats, follow and HAR output over bundled
// captures with golden files (go test -update rewrites them).
func TestViewsGolden(t *testing.T) {
	views := []struct {
		name string
		args []string
	}{
		{"stats.txt", []string{"stats", "../../testdata/public/zeek/wstunnel-ssh.pcap", "../../testdata/real/node-fragmented.pcap", "../../testdata/public/zeek/wrong-accept-header.pcap"}},
		{"stats.jsonl", []string{"stats", "--format", "jsonl", "../../testdata/real/gorilla-basic.pcap", "../../testdata/public/zeek/websocket.pcap"}},
		{"follow-node.txt", []string{"follow", "--conn", "1", "../../testdata/real/node-fragmented.pcap"}},
		{"follow-accept.txt", []string{"follow", "--conn", "1", "../../testdata/public/zeek/wrong-accept-header.pcap"}},
		{"follow-raw.txt", []string{"follow", "--raw", "--conn", "1", "../../testdata/real/coder-takeover.pcap"}},
		{"summary.txt", []string{"read", "--summary", "../../testdata/public/zeek/two-binary-fragments.pcap"}},
		{"har.json", []string{"read", "--format", "har", "../../testdata/real/gorilla-basic.pcap", "../../testdata/public/zeek/fragmented-http-reply.pcap"}},
	}
	for _, v := range views {
		t.Run(v.name, func(t *testing.T) {
			out, stderr, code := wscap(t, v.args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden := filepath.Join("../../testdata/golden/views", v.name)
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				os.WriteFile(golden, []byte(out), 0o644)
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update)", err)
			}
			if out != string(want) {
				t.Errorf("differs from %s:\n%s", golden, firstDiff(out, string(want)))
			}
		})
	}
}

// TestHAR validates the HAR 1.2 structure wscap writes and that every
// decoded message of every handshake is in its entry.
func TestHAR(t *testing.T) {
	caps, _ := filepath.Glob("../../testdata/real/*.pcap*")
	caps = append(caps, "../../testdata/public/zeek/wstunnel-ssh.pcap", "../../testdata/public/zeek/two-binary-fragments.pcap")
	out, stderr, code := wscap(t, append([]string{"read", "--format", "har"}, caps...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc struct {
		Log struct {
			Version string
			Creator struct{ Name, Version string }
			Pages   []any
			Entries []map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc.Log.Version != "1.2" || doc.Log.Creator.Name != "wscap" || doc.Log.Pages == nil {
		t.Errorf("log header: %+v", doc.Log)
	}
	jl, _, _ := wscap(t, append([]string{"read", "--format", "jsonl"}, caps...)...)
	msgs := map[float64]int{}
	hs := 0
	for _, r := range records(t, jl) {
		switch r["kind"] {
		case "message":
			if r["undecodable"] != true {
				msgs[r["conn"].(float64)]++
			}
		case "handshake":
			hs++
		}
	}
	if len(doc.Log.Entries) != hs {
		t.Fatalf("%d entries, %d handshakes", len(doc.Log.Entries), hs)
	}
	for i, e := range doc.Log.Entries {
		for _, k := range []string{"startedDateTime", "time", "request", "response", "cache", "timings", "_webSocketMessages"} {
			if _, ok := e[k]; !ok {
				t.Errorf("entry %d has no %s", i, k)
			}
		}
		var req struct {
			Method, URL, HTTPVersion      string
			Cookies, Headers, QueryString []struct{ Name, Value string }
			HeadersSize, BodySize         *int
		}
		var resp struct {
			Status                  *int
			StatusText, HTTPVersion string
			Cookies, Headers        []struct{ Name, Value string }
			Content                 *struct {
				Size     *int
				MimeType *string
			}
			RedirectURL           *string
			HeadersSize, BodySize *int
		}
		var timings struct{ Send, Wait, Receive *float64 }
		var ws []struct {
			Type   string
			Time   float64
			Opcode int
			Data   *string
		}
		json.Unmarshal(e["request"], &req)
		json.Unmarshal(e["response"], &resp)
		json.Unmarshal(e["timings"], &timings)
		json.Unmarshal(e["_webSocketMessages"], &ws)
		if req.Method == "" || !strings.HasPrefix(req.URL, "ws://") || req.HTTPVersion == "" || req.Cookies == nil || req.Headers == nil ||
			req.QueryString == nil || req.HeadersSize == nil || req.BodySize == nil {
			t.Errorf("entry %d: bad request %s", i, e["request"])
		}
		if resp.Status == nil || resp.Cookies == nil || resp.Headers == nil || resp.Content == nil || resp.Content.MimeType == nil ||
			resp.RedirectURL == nil || resp.HeadersSize == nil || resp.BodySize == nil {
			t.Errorf("entry %d: bad response %s", i, e["response"])
		}
		if timings.Send == nil || timings.Wait == nil || timings.Receive == nil {
			t.Errorf("entry %d: bad timings", i)
		}
		for _, m := range ws {
			if (m.Type != "send" && m.Type != "receive") || m.Time < 1e9 || m.Data == nil {
				t.Errorf("entry %d: bad message %+v", i, m)
			}
		}
		var conn string
		json.Unmarshal(e["connection"], &conn)
		var id float64
		json.Unmarshal([]byte(conn), &id)
		if len(ws) != msgs[id] {
			t.Errorf("entry %d (conn %s): %d messages, JSONL has %d", i, conn, len(ws), msgs[id])
		}
	}
}

// TestTerminalSafety feeds payloads full of ANSI escape sequences, other
// C0/C1 controls and bidi overrides: none may reach table, follow or stats
// output raw.
func TestTerminalSafety(t *testing.T) {
	c := gen.New(gen.Options{Seed: 1})
	conn := c.Conn(gen.ConnOptions{})
	evil := "\x1b[31mRED\x1b[0m \x1b]0;pwned\x07 \u202eevil\u202c \u0085 \x9b31m \x00 \r"
	conn.Handshake(gen.Handshake{Path: "/\x1b[2J", Protocols: []string{"chat"}, Protocol: "chat"})
	conn.Text(gen.FromClient, evil)
	conn.Text(gen.FromServer, `{"msg":"`+strings.ReplaceAll(evil, "\x1b", `\u001b`)+`","raw":"\u202e"}`)
	conn.Binary(gen.FromServer, []byte(evil))
	conn.Close(gen.FromClient, 1000, evil)
	conn.Close(gen.FromServer, 1000, "")
	conn.Teardown()
	var buf bytes.Buffer
	if _, err := c.Write(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "evil.pcap")
	os.WriteFile(path, buf.Bytes(), 0o644)
	for _, args := range [][]string{{"read"}, {"read", "--frames"}, {"follow", "--conn", "1"}, {"follow", "--raw", "--conn", "1"}, {"stats"}, {"read", "--summary"}} {
		out, stderr, _ := wscap(t, append(args, path)...)
		for _, bad := range []string{"\x1b", "\x07", "\u202e", "\u202c", "\u0085", "\x9b", "\x00", "\r"} {
			if strings.Contains(out+stderr, bad) {
				t.Errorf("%s: output holds %q raw", strings.Join(args, " "), bad)
			}
		}
		if !strings.Contains(out, `\x1b`) && args[0] != "stats" {
			t.Errorf("%s: the escape is not shown escaped:\n%s", strings.Join(args, " "), out)
		}
	}
}

// TestFilters checks each display filter and their composition.
func TestFilters(t *testing.T) {
	caps := []string{"../../testdata/public/zeek/wstunnel-ssh.pcap", "../../testdata/real/node-fragmented.pcap", "../../testdata/public/zeek/wrong-accept-header.pcap"}
	count := func(args ...string) (map[string]int, []map[string]any) {
		out, stderr, code := wscap(t, append(append([]string{"read", "--format", "jsonl"}, args...), caps...)...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		n := map[string]int{}
		var recs []map[string]any
		for _, r := range records(t, out) {
			n[r["kind"].(string)]++
			recs = append(recs, r)
		}
		return n, recs
	}
	all, _ := count()
	for _, tc := range []struct {
		args []string
		ok   func(r map[string]any) bool
	}{
		{[]string{"--conn", "2,3"}, func(r map[string]any) bool { return r["kind"] == "totals" || r["conn"] == 2.0 || r["conn"] == 3.0 }},
		{[]string{"--from", "server"}, func(r map[string]any) bool { return r["kind"] != "message" || r["from"] == "server" }},
		{[]string{"--opcode", "ping,pong"}, func(r map[string]any) bool {
			return r["kind"] != "message" || r["opcode"] == "ping" || r["opcode"] == "pong"
		}},
		{[]string{"--grep", "^Grü"}, func(r map[string]any) bool {
			return r["kind"] != "message" || strings.HasPrefix(r["text"].(string), "Grü")
		}},
		{[]string{"--host", "localhost"}, func(r map[string]any) bool { return r["kind"] == "totals" || r["conn"] != 3.0 }},
		{[]string{"--path", "/node"}, func(r map[string]any) bool { return r["kind"] == "totals" || r["conn"] == 3.0 }},
		{[]string{"--findings-only"}, func(r map[string]any) bool { return r["kind"] == "finding" || r["kind"] == "totals" }},
		{[]string{"--findings-only", "--conn", "4"}, func(r map[string]any) bool {
			return r["kind"] == "totals" || (r["kind"] == "finding" && r["conn"] == 4.0)
		}},
		{[]string{"--from", "client", "--opcode", "text", "--path", "/node"}, func(r map[string]any) bool {
			return r["kind"] != "message" || (r["from"] == "client" && r["opcode"] == "text" && r["conn"] == 3.0)
		}},
	} {
		n, recs := count(tc.args...)
		kept := 0
		for _, r := range recs {
			if !tc.ok(r) {
				t.Errorf("%v let through %v", tc.args, r)
			}
			if r["kind"] != "totals" {
				kept++
			}
		}
		if kept == 0 || kept == len(recs)-1 && n["message"] == all["message"] && n["finding"] == all["finding"] && n["handshake"] == all["handshake"] {
			t.Errorf("%v: kept %d records (%v), all: %v", tc.args, kept, n, all)
		}
	}
}

// TestWritePcap exports the packets of selected connections and reads the
// export back: the same messages come out.
func TestWritePcap(t *testing.T) {
	caps := []string{"../../testdata/public/zeek/wstunnel-ssh.pcap", "../../testdata/real/node-fragmented.pcap"}
	msgs := func(out string) []string {
		var l []string
		for _, r := range records(t, out) {
			if r["kind"] == "message" {
				l = append(l, r["from"].(string)+" "+r["opcode"].(string)+" "+payloadHex(r))
			}
		}
		return l
	}
	for _, args := range [][]string{{"--conn", "2,3"}, {"--opcode", "ping"}, {"--path", "/node"}} {
		exp := filepath.Join(t.TempDir(), "export.pcapng")
		out, stderr, code := wscap(t, append(append([]string{"read", "--format", "jsonl", "--write-pcap", exp}, args...), caps...)...)
		if code != exitOK {
			t.Fatalf("%v: exit %d %s", args, code, stderr)
		}
		want := msgs(out)
		// Read back with the same message filters, since --opcode keeps
		// whole connections but shows only some messages.
		filter := args
		if args[0] == "--conn" || args[0] == "--path" {
			filter = nil
		}
		back, stderr, code := wscap(t, append(append([]string{"read", "--format", "jsonl"}, filter...), exp)...)
		if code != exitOK || len(want) == 0 || strings.Join(msgs(back), "\n") != strings.Join(want, "\n") {
			t.Errorf("%v: exit %d %s; %d messages exported, %d read back", args, code, stderr, len(want), len(msgs(back)))
		}
	}
}

// TestSummary: --summary follows the message table with the connection
// summary, never inside it (on captures whose output is larger than any
// buffer), and is refused where the format has no place for it.
func TestSummary(t *testing.T) {
	for _, c := range []string{"../../testdata/public/zeek/wstunnel-https.pcap", "../../testdata/real/gorilla-basic.pcap"} {
		plain, _, code := wscap(t, "read", c)
		if code != exitOK {
			t.Fatalf("%s: exit %d", c, code)
		}
		out, stderr, code := wscap(t, "read", "--summary", c)
		if code != exitOK || stderr != "" {
			t.Fatalf("%s: exit %d: %s", c, code, stderr)
		}
		rest, ok := strings.CutPrefix(out, plain)
		if !ok || !strings.Contains(rest, "| total ") || !strings.Contains(rest, "packets: ") {
			t.Errorf("%s: the output is not the message table followed by the summary:\n%s", c, firstDiff(out, plain))
		}
	}
	for _, f := range []string{"jsonl", "har"} {
		out, stderr, code := wscap(t, "read", "--summary", "--format", f, "../../testdata/real/gorilla-basic.pcap")
		if code != exitError || out != "" || !strings.Contains(stderr, "--summary") {
			t.Errorf("--format %s: exit %d, %d bytes out, stderr %q", f, code, len(out), stderr)
		}
	}
}
