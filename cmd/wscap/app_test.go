package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAppCaptures: the application protocols of the captures made with
// the real libraries (testdata/app, see its README) decode to what the
// libraries logged: for each message, in order per direction, its type,
// namespace, event, topic, ids and headers, as the protocol has them.
func TestAppCaptures(t *testing.T) {
	exps, _ := filepath.Glob("../../testdata/app/*.json")
	if len(exps) == 0 {
		t.Fatal("no captures in testdata/app")
	}
	for _, ef := range exps {
		t.Run(filepath.Base(ef), func(t *testing.T) {
			b, err := os.ReadFile(ef)
			if err != nil {
				t.Fatal(err)
			}
			var exp map[string]any
			if err := json.Unmarshal(b, &exp); err != nil {
				t.Fatal(err)
			}
			out, stderr, code := wscap(t, "read", "--format", "jsonl", strings.TrimSuffix(ef, ".json")+".pcap")
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got []string
			var findings []string
			for _, r := range records(t, out) {
				switch r["kind"] {
				case "message":
					if a, ok := r["app"].(map[string]any); ok {
						got = append(got, appLines(r["from"].(string), a)...)
					}
				case "finding":
					findings = append(findings, r["code"].(string)+": "+r["detail"].(string))
				}
			}
			// Order is compared per direction: the libraries' logs and the
			// wire need not agree on which peer went first.
			want := byDirection(expectedAppLines(exp))
			got = byDirection(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("decoded\n%s\nlogged\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			// wscap_findings (added to the library's log) lists the codes
			// wscap must report.
			var wantFindings []string
			for _, c := range exp["wscap_findings"].([]any) {
				wantFindings = append(wantFindings, c.(string))
			}
			var codes []string
			for _, f := range findings {
				codes = append(codes, strings.SplitN(f, ":", 2)[0])
			}
			if strings.Join(codes, ",") != strings.Join(wantFindings, ",") {
				t.Errorf("findings %q, want %v", findings, wantFindings)
			}
		})
	}
}

// byDirection puts the client's lines first, each direction in order.
func byDirection(lines []string) []string {
	var c, s []string
	for _, l := range lines {
		if strings.HasPrefix(l, "client ") {
			c = append(c, l)
		} else {
			s = append(s, l)
		}
	}
	return append(c, s...)
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return fmt.Sprint(int64(x))
	case string:
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// appLines is one line per application unit of a decoded message.
func appLines(from string, a map[string]any) []string {
	var out []string
	switch a["protocol"] {
	case "socket.io":
		p, ok := a["socketio"].(map[string]any)
		if !ok || p["attachment"] != nil {
			return nil // Engine.IO packets, attachments
		}
		typ := strings.TrimPrefix(str(p["type"]), "BINARY_")
		out = append(out, strings.Join([]string{from, typ, str(p["nsp"]), str(p["event"]), str(p["id"]), str(p["attachments"])}, " "))
	case "mqtt":
		packets, _ := a["packets"].([]any) // none when the message only starts one
		for _, x := range packets {
			p := x.(map[string]any)
			out = append(out, strings.Join([]string{from, str(p["type"]), str(p["topic"]), str(p["packet_id"])}, " "))
		}
	case "stomp":
		if a["summary"] == "heart-beat" {
			out = append(out, from+" heart-beat")
		}
		frames, _ := a["frames"].([]any) // none for a heart-beat
		for _, x := range frames {
			f := x.(map[string]any)
			out = append(out, from+" "+str(f["command"])+" "+str(f["headers"]))
		}
	case "graphql-transport-ws", "graphql-ws":
		out = append(out, strings.Join([]string{from, str(a["type"]), str(a["id"])}, " "))
	case "json-rpc":
		items := []any{a}
		if b, ok := a["batch"].([]any); ok {
			items = b
		}
		for _, x := range items {
			o := x.(map[string]any)
			if o["kind"] == nil {
				continue
			}
			method := str(o["method"]) // a response's is the request's, which the log lacks
			if o["kind"] == "response" || o["kind"] == "error" {
				method = ""
			}
			out = append(out, strings.Join([]string{from, str(o["kind"]), method, str(o["id"])}, " "))
		}
	}
	return out
}

// expectedAppLines makes the same lines from what the libraries logged.
func expectedAppLines(exp map[string]any) []string {
	var out []string
	list := func(key string) []map[string]any {
		var l []map[string]any
		for _, x := range exp[key].([]any) {
			l = append(l, x.(map[string]any))
		}
		return l
	}
	switch exp["protocol"] {
	case "socket.io":
		for _, e := range list("events") {
			if e["transport"] == "polling" {
				continue // HTTP long-polling bodies are not decoded
			}
			id := e["ack_id"]
			if id == nil {
				id = e["id"]
			}
			n := str(e["attachments"])
			out = append(out, strings.Join([]string{str(e["from"]), str(e["type"]), str(e["nsp"]), str(e["event"]), str(id), n}, " "))
		}
	case "mqtt":
		for _, p := range list("packets") {
			id := p["packet_id"]
			if id == nil {
				id = p["messageId"]
			}
			out = append(out, strings.Join([]string{str(p["from"]), str(p["type"]), str(p["topic"]), str(id)}, " "))
		}
	case "stomp":
		for _, f := range list("frames") {
			if f["command"] == nil {
				out = append(out, str(f["from"])+" heart-beat")
				continue
			}
			out = append(out, str(f["from"])+" "+str(f["command"])+" "+str(f["headers"]))
		}
	case "graphql-transport-ws", "graphql-ws":
		for _, m := range list("messages") {
			out = append(out, strings.Join([]string{str(m["from"]), str(m["type"]), str(m["id"])}, " "))
		}
	case "json-rpc":
		for _, m := range list("messages") {
			items := []any{m}
			if b, ok := m["items"].([]any); ok {
				items = b
			}
			for _, x := range items {
				o := x.(map[string]any)
				k := str(o["kind"])
				if k == "rpc-websockets-event" {
					continue // not JSON-RPC: reported as such
				}
				from := str(m["from"])
				out = append(out, strings.Join([]string{from, k, str(o["method"]), str(o["id"])}, " "))
			}
		}
	}
	return out
}

// TestAppFlag: --app none turns decoding off, --app CONN=NAME sets it for
// one connection, and an unknown protocol is an error.
func TestAppFlag(t *testing.T) {
	const capture = "../../testdata/app/socketio-ws.pcap"
	decoded := func(args ...string) int {
		t.Helper()
		out, stderr, code := wscap(t, append([]string{"read", "--format", "jsonl"}, append(args, capture)...)...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		n := 0
		for _, r := range records(t, out) {
			if r["app"] != nil {
				n++
			}
		}
		return n
	}
	auto := decoded()
	if auto < 20 || decoded("--app", "none") != 0 || decoded("--app", "1=none") != 0 || decoded("--app", "none", "--app", "1=socket.io") != auto {
		t.Errorf("auto %d; none %d; 1=none %d; none,1=socket.io %d", auto, decoded("--app", "none"), decoded("--app", "1=none"), decoded("--app", "none", "--app", "1=socket.io"))
	}
	if _, stderr, code := wscap(t, "read", "--app", "bogus", capture); code != exitError || !strings.Contains(stderr, "unknown protocol") {
		t.Errorf("--app bogus: exit %d, %q", code, stderr)
	}
}
