package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/wscap/wscap/internal/hostile"
	"github.com/wscap/wscap/internal/testcaps"
)

// fuzzFile is the file a fuzzing process writes each input to: one per
// process, rewritten for every input, so no directory is made per input.
var fuzzFile struct {
	once sync.Once
	path string
	err  error
}

func fuzzCapturePath(t *testing.T, data []byte) string {
	fuzzFile.once.Do(func() {
		f, err := os.CreateTemp("", "wscap-fuzz-*.pcap")
		if err != nil {
			fuzzFile.err = err
			return
		}
		fuzzFile.path = f.Name()
		f.Close()
	})
	if fuzzFile.err != nil {
		t.Fatal(fuzzFile.err)
	}
	if err := os.WriteFile(fuzzFile.path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return fuzzFile.path
}

// FuzzPipeline runs the whole program over raw capture bytes, as JSON Lines
// and as a table, and stats as a table: no panic, exit status 0 or 2, error
// output one "wscap:" line per problem, every JSON line valid JSON and
// valid UTF-8, the final totals record accounting for every packet read,
// and the stats table's rows all as wide as its borders, with nothing a
// terminal would act on.
func FuzzPipeline(f *testing.F) {
	for _, b := range testcaps.Seeds(f, "../..", 16<<10) {
		f.Add(b)
	}
	for _, c := range hostile.Small() {
		f.Add(c.Data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := fuzzCapturePath(t, data)
		var out, errb bytes.Buffer
		code := run([]string{"read", "--format", "jsonl", path}, bytes.NewReader(nil), &out, &errb)
		checkRun(t, "jsonl", code, errb.String())
		checkJSONL(t, out.Bytes())

		out.Reset()
		errb.Reset()
		code = run([]string{"read", path}, bytes.NewReader(nil), &out, &errb)
		checkRun(t, "table", code, errb.String())
		if !utf8.Valid(out.Bytes()) {
			t.Fatalf("table output is not valid UTF-8")
		}

		out.Reset()
		errb.Reset()
		code = run([]string{"stats", path}, bytes.NewReader(nil), &out, &errb)
		checkRun(t, "stats", code, errb.String())
		checkGrid(t, out.String())
	})
}

// checkGrid checks a table: valid UTF-8, no control character but the
// line ends, and every line of the table (from its first border to its
// last) exactly as wide as the first border.
func checkGrid(t *testing.T, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("table output is not valid UTF-8")
	}
	for i := 0; i < len(out); i++ {
		if c := out[i]; (c < 0x20 && c != '\n') || c == 0x7f {
			t.Fatalf("control byte %#x in the table output", c)
		}
	}
	width := -1
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "|") {
			if width >= 0 && strings.HasPrefix(l, "packets:") {
				break // the counters after the table
			}
			continue
		}
		if width < 0 {
			width = utf8.RuneCountInString(l)
		}
		if n := utf8.RuneCountInString(l); n != width || !strings.HasSuffix(l, "|") && !strings.HasSuffix(l, "+") {
			t.Fatalf("table line %d runes wide (want %d): %q", n, width, l)
		}
	}
}

func checkRun(t *testing.T, what string, code int, stderr string) {
	t.Helper()
	if code != exitOK && code != exitError {
		t.Fatalf("%s: exit status %d; stderr:\n%s", what, code, stderr)
	}
	// The one-line note on what was there when no WebSocket was found is
	// not an error.
	var lines []string
	for _, l := range strings.SplitAfter(stderr, "\n") {
		if strings.HasPrefix(l, "wscap: no WebSocket found; ") {
			if !strings.Contains(stderr, l) || strings.Count(stderr, "no WebSocket found") > 1 {
				t.Fatalf("%s: the note comes more than once: %q", what, stderr)
			}
			continue
		}
		lines = append(lines, l)
	}
	stderr = strings.Join(lines, "")
	if (code == exitError) != (stderr != "") {
		t.Fatalf("%s: exit status %d with stderr %q", what, code, stderr)
	}
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if stderr != "" && !strings.HasPrefix(l, "wscap: ") {
			t.Fatalf("%s: error line %q does not start with wscap:", what, l)
		}
	}
}

// checkJSONL checks every line of JSON Lines output and that the last one
// is the totals record whose packet counters add up.
func checkJSONL(t *testing.T, out []byte) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Fatalf("JSON Lines output is not valid UTF-8")
	}
	var last []byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 256<<20)
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("invalid JSON line: %q", sc.Bytes())
		}
		last = sc.Bytes()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Kind    string           `json:"kind"`
		Packets map[string]int64 `json:"packets"`
	}
	if err := json.Unmarshal(last, &raw); err != nil || raw.Kind != "totals" {
		t.Fatalf("the last line is not the totals record: %q (%v)", last, err)
	}
	p := raw.Packets
	if sum := p["websocket"] + p["other_tcp"] + p["not_tcp"] + p["undecodable"] + p["ip_fragments"]; sum != p["read"] {
		t.Fatalf("totals do not add up: %s", last)
	}
}
