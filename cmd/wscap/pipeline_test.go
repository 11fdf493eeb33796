package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wscap/wscap/internal/testcaps"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// wscap runs the command in-process and returns stdout, stderr and status.
func wscap(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, bytes.NewReader(nil), &out, &errb)
	return out.String(), errb.String(), code
}

// records parses JSON Lines output.
func records(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	return recs
}

// publicCaptures lists the captures of other projects bundled in testdata.
func publicCaptures(t *testing.T) []string {
	t.Helper()
	caps, err := testcaps.Find("../../testdata/public")
	if err != nil {
		t.Fatal(err)
	}
	if len(caps) < 20 {
		t.Fatalf("only %d public captures found", len(caps))
	}
	return caps
}

// tsharkFrame is one row of a *.tshark.tsv reference (see testdata/public/SOURCES.md).
type tsharkFrame struct {
	pkt                int
	fin, rsv, op, mask int
	payload, inflated  string
}

func readTshark(t *testing.T, path string) []tsharkFrame {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = '\t'
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: bad number %q", path, s)
		}
		return n
	}
	var frames []tsharkFrame
	for _, row := range rows[1:] {
		frames = append(frames, tsharkFrame{
			pkt: atoi(row[col["frame"]]), fin: atoi(row[col["fin"]]), rsv: atoi(row[col["rsv"]]),
			op: atoi(row[col["opcode"]]), mask: atoi(row[col["mask"]]),
			payload: row[col["payload_hex"]], inflated: row[col["decompressed_hex"]],
		})
	}
	return frames
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// forcedArgs turns a capture's .tshark-args (tshark's -d tcp.port==N,websocket)
// into wscap's equivalent flag.
func forcedArgs(t *testing.T, capture string) []string {
	var args []string
	// A key log beside the capture (NAME.keys) decrypts it.
	if keys := strings.TrimSuffix(capture, filepath.Ext(capture)) + ".keys"; fileExists(keys) {
		args = append(args, "--keylog", keys)
	}
	b, err := os.ReadFile(capture + ".tshark-args")
	if err != nil {
		return args
	}
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, "tcp.port=="); i >= 0 && !strings.HasPrefix(line, "#") {
			port := strings.TrimSuffix(line[i+len("tcp.port=="):], ",websocket")
			args = append(args, "--ws-port", strings.TrimSpace(port))
		}
	}
	return args
}

// TestAgreesWithTshark checks every frame wscap decodes in the bundled public
// captures against Wireshark's decoding of the same capture: the packet that
// completed the frame, FIN, RSV, opcode, mask bit and the unmasked payload,
// and for compressed messages the inflated payload.
func TestAgreesWithTshark(t *testing.T) {
	for _, capture := range publicCaptures(t) {
		name, _ := filepath.Rel("../../testdata/public", capture)
		t.Run(name, func(t *testing.T) {
			want := readTshark(t, capture+".tshark.tsv")
			args := append([]string{"read", "--frames", "--format", "jsonl"}, forcedArgs(t, capture)...)
			out, stderr, code := wscap(t, append(args, capture)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var got []tsharkFrame
			for _, r := range records(t, out) {
				if r["kind"] != "frame" {
					continue
				}
				data, _ := base64.StdEncoding.DecodeString(r["data"].(string))
				op, _ := strconv.ParseUint(strings.TrimPrefix(opcodeHex(r["opcode"].(string)), "0x"), 16, 8)
				got = append(got, tsharkFrame{pkt: int(r["pkt"].(float64)), fin: b2i(r["fin"].(bool)), rsv: int(r["rsv"].(float64)),
					op: int(op), mask: b2i(r["masked"].(bool)), payload: hex.EncodeToString(data)})
			}
			stripped := make([]tsharkFrame, len(want))
			for i, f := range want {
				f.inflated = ""
				stripped[i] = f
			}
			if !slices.Equal(got, stripped) {
				t.Errorf("frames differ from tshark:\n got %d frames: %s\nwant %d frames: %s", len(got), brief(got), len(want), brief(stripped))
			}
			checkInflated(t, capture, want)
		})
	}
}

// checkInflated compares the inflated payloads of compressed messages.
func checkInflated(t *testing.T, capture string, want []tsharkFrame) {
	var rows []tsharkFrame
	for _, f := range want {
		if f.inflated != "" {
			rows = append(rows, f)
		}
	}
	if len(rows) == 0 {
		return
	}
	out, _, _ := wscap(t, "read", "--format", "jsonl", capture)
	byPkt := map[int]string{}
	for _, r := range records(t, out) {
		if r["kind"] != "message" || r["compressed"] != true {
			continue
		}
		byPkt[int(r["pkt"].(float64))] = payloadHex(r)
	}
	for _, f := range rows {
		if got := byPkt[f.pkt]; got != f.inflated {
			t.Errorf("packet %d: inflated payload %.40s…, tshark %.40s…", f.pkt, got, f.inflated)
		}
	}
}

// payloadHex returns a message record's payload (text or data) as hex.
func payloadHex(r map[string]any) string {
	if s, ok := r["text"].(string); ok {
		return hex.EncodeToString([]byte(s))
	}
	if s, ok := r["data"].(string); ok {
		b, _ := base64.StdEncoding.DecodeString(s)
		return hex.EncodeToString(b)
	}
	return ""
}

func opcodeHex(name string) string {
	for op, n := range map[int]string{0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"} {
		if n == name {
			return fmt.Sprintf("0x%x", op)
		}
	}
	return name
}

func brief(fs []tsharkFrame) string {
	var b strings.Builder
	for i, f := range fs {
		if i == 12 {
			b.WriteString(" …")
			break
		}
		p := f.payload
		if len(p) > 16 {
			p = p[:16] + "…"
		}
		fmt.Fprintf(&b, " [pkt %d fin %d rsv %d op %d mask %d %s]", f.pkt, f.fin, f.rsv, f.op, f.mask, p)
	}
	return b.String()
}

// TestGolden compares wscap's JSON Lines and table output over every bundled
// capture with the golden files in testdata/golden (go test -update rewrites
// them).
func TestGolden(t *testing.T) {
	caps := publicCaptures(t)
	real, _ := filepath.Glob("../../testdata/real/*.pcap*")
	h2, _ := filepath.Glob("../../testdata/h2/*.pcap*")
	apps, _ := filepath.Glob("../../testdata/app/*.pcap*")
	caps = append(append(append(caps, real...), h2...), apps...)
	for _, capture := range caps {
		rel, _ := filepath.Rel("../../testdata", capture)
		base := strings.ReplaceAll(rel, string(filepath.Separator), "__")
		t.Run(rel, func(t *testing.T) {
			extra := forcedArgs(t, capture)
			for _, v := range []struct {
				suffix string
				args   []string
			}{
				{".jsonl", []string{"read", "--format", "jsonl"}},
				{".txt", []string{"read"}},
				{".stats.txt", []string{"stats"}},
			} {
				args := append(append(v.args, extra...), capture)
				out, stderr, _ := wscap(t, args...)
				got := out + stderr
				golden := filepath.Join("../../testdata/golden", base+v.suffix)
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs from %s (go test -update rewrites it); got:\n%s", strings.Join(v.args, " "), golden, firstDiff(got, string(want)))
				}
			}
		})
	}
}

// firstDiff shows the first differing line.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, a, b)
		}
	}
	return ""
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
