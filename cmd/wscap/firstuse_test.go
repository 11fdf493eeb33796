package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wscap/wscap/dissect/tls"
)

// TestFirstUse: what a new user met (issue "What a new user hit"): a
// connection that is not there, stats without a file, --strict with
// formats that show no findings, -r, and the totals' duration.
func TestFirstUse(t *testing.T) {
	const wrongAccept = "../../testdata/public/zeek/wrong-accept-header.pcap" // an accept mismatch: a finding of severity error
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
		stdout string
	}{
		{"--conn beyond the connections", []string{"read", "--conn", "99", "../../testdata/real/gorilla-basic.pcap"}, exitError, "wscap: no connection 99 (the capture has 1)\n", ""},
		{"--conn with stats", []string{"stats", "--conn", "3", "../../testdata/real/gorilla-basic.pcap"}, exitError, "no connection 3 (the capture has 1)", ""},
		{"stats without a file", []string{"stats"}, exitError, "stats needs at least one capture file", ""},
		{"--strict with HAR", []string{"read", "--strict", "--format", "har", wrongAccept}, exitFindings, "", `"_webSocketMessages"`},
		{"--strict with stats", []string{"stats", "--strict", wrongAccept}, exitFindings, "", "| total "},
		{"-r FILE", []string{"read", "-r", "../../testdata/real/gorilla-basic.pcap", "--format", "jsonl"}, exitOK, "", `"websocket_connections":1`},
		{"stats -r FILE", []string{"stats", "-r", "../../testdata/real/gorilla-basic.pcap"}, exitOK, "", "| total "},
		{"-c N over two files", []string{"read", "-c", "45", "--format", "jsonl", "../../testdata/real/gorilla-basic.pcap", "../../testdata/real/gorilla-basic.pcap"}, exitOK, "", `"packets":{"read":45,`},
		{"live --write-pcap refused at once", []string{"live", "-i", "lo", "--write-pcap", "/nonexistent/x.pcapng"}, exitError, "save the packets with -w FILE", ""},
		{"-f on a file", []string{"read", "-f", "tcp port 18090", "--format", "jsonl", "../../testdata/nonws/mixed.pcap"}, exitOK, "", `"packets":{"read":51,"websocket":51,"other_tcp":0,`},
		{"-f that does not compile", []string{"read", "-f", "tcp port", "../../testdata/nonws/mixed.pcap"}, exitError, "-f: capture filter", ""},
		{"--hex shows text and hex", []string{"read", "--hex", "../../testdata/real/gorilla-basic.pcap"}, exitOK, "", "Hello, wscap! | 48656c6c6f2c20777363617021"},
		{"findings by code after the table", []string{"read", wrongAccept}, exitOK, "", "\nfindings: close-handshake-missing ×1, handshake-accept-mismatch ×1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := wscap(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) || !strings.Contains(out, tc.stdout) {
				t.Errorf("exit %d (want %d), stderr %q, stdout %.200q", code, tc.code, stderr, out)
			}
		})
	}
	// The totals' duration is the capture's span (3.5 s here), not the sum
	// of the connections' durations.
	out, _, _ := wscap(t, "stats", "--format", "jsonl", "../../testdata/real/gorilla-basic.pcap", "../../testdata/public/zeek/websocket.pcap")
	recs := records(t, out)
	var sum float64
	for _, r := range recs {
		if r["kind"] == "connection" {
			sum += r["duration"].(float64)
		}
	}
	tot := recs[len(recs)-1]
	summary, _ := tot["summary"].(map[string]any)
	if d, _ := summary["duration"].(float64); d == sum || d > 4 || d == 0 {
		t.Errorf("totals duration %v, connections' sum %v", summary["duration"], sum)
	}
}

// TestStatsSchema: stats --format jsonl writes the connection records and
// the totals record of read --format jsonl, field for field; the totals
// add the aggregate as "summary".
func TestStatsSchema(t *testing.T) {
	args := []string{"--format", "jsonl", "../../testdata/real/gorilla-basic.pcap", "../../testdata/public/zeek/websocket.pcap"}
	rd, _, _ := wscap(t, append([]string{"read"}, args...)...)
	st, _, _ := wscap(t, append([]string{"stats"}, args...)...)
	var readConns, statsConns []string
	var readTotals, statsTotals string
	for _, l := range strings.Split(rd, "\n") {
		switch {
		case strings.HasPrefix(l, `{"kind":"connection"`):
			readConns = append(readConns, l)
		case strings.HasPrefix(l, `{"kind":"totals"`):
			readTotals = l
		}
	}
	for _, l := range strings.Split(st, "\n") {
		switch {
		case strings.HasPrefix(l, `{"kind":"connection"`):
			statsConns = append(statsConns, l)
		case strings.HasPrefix(l, `{"kind":"totals"`):
			statsTotals = l
		}
	}
	if len(readConns) != 2 || strings.Join(readConns, "\n") != strings.Join(statsConns, "\n") {
		t.Errorf("connection records differ:\nread  %v\nstats %v", readConns, statsConns)
	}
	if base, ok := strings.CutSuffix(readTotals, "}"); !ok || !strings.HasPrefix(statsTotals, base+`,"summary":{`) {
		t.Errorf("totals differ:\nread  %s\nstats %s", readTotals, statsTotals)
	}
}

// TestRefusedFlags: --write-pcap onto an input (also through a hard link)
// is refused before anything is written; --assume-extensions must name an
// extension wscap decodes.
func TestRefusedFlags(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile("../../testdata/real/gorilla-basic.pcap")
	in := filepath.Join(dir, "in.pcap")
	os.WriteFile(in, src, 0o644)
	link := filepath.Join(dir, "link.pcap")
	os.Link(in, link)
	for _, out := range []string{in, link} {
		_, stderr, code := wscap(t, "read", "--write-pcap", out, in)
		if b, _ := os.ReadFile(in); code != exitError || !strings.Contains(stderr, "is one of the inputs") || !bytes.Equal(b, src) {
			t.Errorf("--write-pcap %s: exit %d, %q, input %d bytes (was %d)", out, code, stderr, len(b), len(src))
		}
	}
	for _, v := range []string{"foo", "permessage-deflate; =", "x-unknown; a=1"} {
		if _, stderr, code := wscap(t, "read", "--assume-extensions", v, in); code != exitError || !strings.Contains(stderr, "--assume-extensions") {
			t.Errorf("--assume-extensions %q: exit %d, %q", v, code, stderr)
		}
	}
	if _, stderr, code := wscap(t, "read", "--assume-extensions", "permessage-deflate; client_no_context_takeover", in); code != exitOK {
		t.Errorf("a valid --assume-extensions refused: %q", stderr)
	}
}

// TestKeyLogTail: a growing key log (live) is read a complete line at a
// time, from where the last read stopped, and again from the start when
// it was truncated and rewritten.
func TestKeyLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.log")
	line := func(b byte) string {
		return "CLIENT_RANDOM " + strings.Repeat(fmt.Sprintf("%02x", b), 32) + " " + strings.Repeat("01", 48) + "\n"
	}
	k := tls.NewKeyLog()
	var bad []string
	os.WriteFile(path, []byte(line(1)+line(2)[:40]), 0o600)
	off := readKeyLogTail(path, 0, k, &bad)
	if k.Len() != 1 || off != int64(len(line(1))) {
		t.Fatalf("%d secrets, offset %d", k.Len(), off)
	}
	os.WriteFile(path, []byte(line(1)+line(2)+"garbage\n"), 0o600)
	off = readKeyLogTail(path, off, k, &bad)
	if k.Len() != 2 || len(bad) != 1 || off != int64(len(line(1)+line(2)+"garbage\n")) {
		t.Fatalf("%d secrets, offset %d, bad %v", k.Len(), off, bad)
	}
	os.WriteFile(path, []byte(line(3)), 0o600) // rewritten, shorter
	if off = readKeyLogTail(path, off, k, &bad); k.Len() != 3 || off != int64(len(line(3))) {
		t.Fatalf("after a rewrite: %d secrets, offset %d", k.Len(), off)
	}
}

// TestFlagsPerCommand: each subcommand lists and accepts only the flags
// that mean something to it.
func TestFlagsPerCommand(t *testing.T) {
	const c = "../../testdata/real/gorilla-basic.pcap"
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"stats", "--frames", c}, false},
		{[]string{"stats", "--hex", c}, false},
		{[]string{"stats", "--time", "relative", c}, false},
		{[]string{"stats", "--grep", "x", c}, false},
		{[]string{"stats", "--format", "har", c}, false},
		{[]string{"follow", "--conn", "1", "--format", "jsonl", c}, false},
		{[]string{"follow", "--conn", "1", "--frames", c}, false},
		{[]string{"follow", "--conn", "1", "--summary", c}, false},
		{[]string{"follow", "--conn", "1", "--grep", "Hello", c}, true},
		{[]string{"stats", "--host", "127.0.0.1*", c}, true},
		{[]string{"read", "--frames", "--hex", "--time", "relative", c}, true},
	} {
		_, stderr, code := wscap(t, tc.args...)
		if (code == exitOK) != tc.ok {
			t.Errorf("%v: exit %d, %q", tc.args, code, stderr)
		}
	}
	for cmd, want := range map[string]string{"stats": "table or jsonl", "live": "table or jsonl", "read": "table, jsonl or har"} {
		out, _, _ := wscap(t, cmd, "--help")
		if !strings.Contains(out, "output format: "+want) {
			t.Errorf("%s --help: --format not %q", cmd, want)
		}
	}
	if out, _, _ := wscap(t, "follow", "--help"); strings.Contains(out, "--format") || strings.Contains(out, "--hex") {
		t.Errorf("follow --help lists flags it ignores")
	}
}

// TestRelativeTimeSeveralFiles: --time relative over several files counts
// from the earliest packet of all of them, never below zero.
func TestRelativeTimeSeveralFiles(t *testing.T) {
	// The second file is years older than the first.
	out, _, code := wscap(t, "read", "--time", "relative", "../../testdata/real/gorilla-basic.pcap", "../../testdata/public/zeek/websocket.pcap")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	rows := 0
	for _, l := range strings.Split(out, "\n") {
		f := strings.Split(l, "|")
		if len(f) < 3 || !strings.ContainsAny(f[1], "0123456789") {
			continue
		}
		rows++
		if strings.HasPrefix(strings.TrimSpace(f[1]), "-") {
			t.Fatalf("a negative time: %q", l)
		}
	}
	if rows < 20 {
		t.Errorf("%d timed rows", rows)
	}
}

// TestFollowMsg: follow --msg N prints one message whole; --msg-out writes
// its payload bytes as they were sent; a message that is not there is said.
func TestFollowMsg(t *testing.T) {
	const c = "../../testdata/real/gorilla-basic.pcap"
	out, _, code := wscap(t, "follow", "--conn", "1", "--msg", "3", c)
	if code != exitOK || !strings.Contains(out, "héllo wörld — Привет — 你好 — 🌍") || strings.Contains(out, "Hello, wscap!") || strings.Contains(out, "===") {
		t.Errorf("--msg 3: exit %d\n%s", code, out)
	}
	// Message 16 is the 70,000-byte binary message; read gives its bytes.
	var want []byte
	jl, _, _ := wscap(t, "read", "--format", "jsonl", c)
	n := 0
	for _, r := range records(t, jl) {
		if r["kind"] == "message" {
			if n++; n == 16 {
				want, _ = base64.StdEncoding.DecodeString(r["data"].(string))
			}
		}
	}
	path := filepath.Join(t.TempDir(), "msg16.bin")
	if _, stderr, code := wscap(t, "follow", "--conn", "1", "--msg", "16", "--msg-out", path, c); code != exitOK {
		t.Fatalf("--msg-out: exit %d %s", code, stderr)
	}
	if got, _ := os.ReadFile(path); len(want) != 70000 || !bytes.Equal(got, want) {
		t.Errorf("--msg-out wrote %d bytes, want the %d of message 16", len(got), len(want))
	}
	if _, stderr, code := wscap(t, "follow", "--conn", "1", "--msg", "99", c); code != exitError || !strings.Contains(stderr, "no message 99 (the connection has 21)") {
		t.Errorf("--msg 99: exit %d %q", code, stderr)
	}
}
