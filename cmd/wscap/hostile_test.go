package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wscap/wscap/internal/hostile"
)

// Memory is asserted in-process. While a run goes, a goroutine samples
// runtime/metrics "/memory/classes/heap/objects:bytes" (live and
// not-yet-swept objects: what the heap really holds) every 100 µs and keeps
// the peak; the figure asserted is that peak minus the same metric right
// after a forced GC before the run. GOGC is lowered to 10 meanwhile, so
// garbage not yet collected hardly counts. An allocation large enough to matter
// (tens of MiB and up) cannot slip between two samples: zeroing and filling
// it takes far longer than 100 µs. The cumulative "/gc/heap/allocs:bytes"
// delta is logged too, to show the work done. Hostile tests do not run in
// parallel with other tests (none of this package's tests call
// t.Parallel), so the process heap is theirs.

// heapLimit is the most heap a hostile capture may take beyond the
// baseline; naive handling of every capture below needs from 128 MiB to
// many GiB.
const heapLimit = 64 << 20

var heapMetrics = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/allocs:bytes"}}

func readHeap() (objects, allocs uint64) {
	s := make([]metrics.Sample, len(heapMetrics))
	copy(s, heapMetrics)
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// gcPercent is the GOGC used while measuring: low, so that the heap holds
// little garbage beyond what is live and the peak measures what the run
// keeps, not how late the collector ran.
const gcPercent = 10

// measureHeap runs f and returns the peak heap above the baseline and the
// bytes allocated meanwhile.
func measureHeap(f func()) (peak, allocated uint64) {
	defer debug.SetGCPercent(debug.SetGCPercent(gcPercent))
	runtime.GC()
	base, allocs0 := readHeap()
	var max atomic.Uint64
	max.Store(base)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if v, _ := readHeap(); v > max.Load() {
				max.Store(v)
			}
			select {
			case <-stop:
				return
			default:
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	f()
	if v, _ := readHeap(); v > max.Load() {
		max.Store(v)
	}
	close(stop)
	wg.Wait()
	_, allocs1 := readHeap()
	return max.Load() - base, allocs1 - allocs0
}

// finding is what the tests keep of a finding record.
type finding struct {
	conn float64
	code string
}

// collector is the stdout of a JSON Lines run. It checks every line as it
// arrives (valid UTF-8, valid JSON) and keeps what the tests look at, but
// not every message of a hostile connection (only a count and the first
// few, payloads clipped), so the test's own memory stays small.
type collector struct {
	partial    []byte
	lines      int
	bad        string
	ordinaryID float64
	ordinary   []map[string]any
	hostile    []map[string]any
	hostileN   int
	findings   []finding
	conns      []map[string]any
	handshakes []map[string]any
	last       map[string]any
}

func (c *collector) Write(p []byte) (int, error) {
	n := len(p)
	if len(c.partial) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			return n, nil
		}
		c.partial = append(c.partial, p[:i]...)
		c.line(c.partial)
		c.partial = nil // do not keep a big line's array
		p = p[i+1:]
	}
	// Whole lines are parsed where they are: the collector must not add
	// copies of big records to the memory it measures.
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		c.line(p[:i])
		p = p[i+1:]
	}
	if len(p) > 0 {
		c.partial = append([]byte(nil), p...)
	}
	return n, nil
}

// bigLine is decoded from records over a megabyte, instead of a map: the
// payload is checked for UTF-8 but not kept.
type bigLine struct {
	Kind       string  `json:"kind"`
	Conn       float64 `json:"conn"`
	From       string  `json:"from"`
	Opcode     string  `json:"opcode"`
	Length     float64 `json:"length"`
	WireLength float64 `json:"wire_length"`
	Compressed bool    `json:"compressed"`
	Truncated  bool    `json:"truncated"`
	Incomplete bool    `json:"incomplete"`
}

func (c *collector) line(l []byte) {
	c.lines++
	var m map[string]any
	if len(l) > 1<<20 && utf8.Valid(l) {
		var b bigLine
		if json.Unmarshal(l, &b) == nil {
			m = map[string]any{"kind": b.Kind, "conn": b.Conn, "from": b.From, "opcode": b.Opcode, "length": b.Length,
				"wire_length": b.WireLength, "compressed": b.Compressed, "truncated": b.Truncated, "incomplete": b.Incomplete}
			l = nil
		}
	}
	if l != nil && (!utf8.Valid(l) || json.Unmarshal(l, &m) != nil) {
		if c.bad == "" {
			c.bad = string(l[:min(len(l), 300)])
		}
		return
	}
	c.last = m
	switch m["kind"] {
	case "handshake":
		c.handshakes = append(c.handshakes, m)
		if m["client"] == hostile.OrdinaryClient {
			c.ordinaryID, _ = m["conn"].(float64)
		}
	case "message":
		if c.ordinaryID != 0 && m["conn"] == c.ordinaryID {
			c.ordinary = append(c.ordinary, m)
			return
		}
		c.hostileN++
		if len(c.hostile) < 100 {
			for _, k := range []string{"text", "data"} {
				if s, ok := m[k].(string); ok && len(s) > 200 {
					m[k] = s[:200]
				}
			}
			c.hostile = append(c.hostile, m)
		}
	case "finding":
		conn, _ := m["conn"].(float64)
		code, _ := m["code"].(string)
		c.findings = append(c.findings, finding{conn, code})
	case "connection":
		c.conns = append(c.conns, m)
	}
}

// codes counts the finding codes of connections other than the ordinary one.
func (c *collector) codes() map[string]int {
	n := map[string]int{}
	for _, f := range c.findings {
		if f.conn != c.ordinaryID {
			n[f.code]++
		}
	}
	return n
}

// tableOut is the stdout of a table run: only checked for UTF-8, line by line.
type tableOut struct {
	partial []byte
	n       int64
	bad     bool
}

func (w *tableOut) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	w.partial = append(w.partial, p...)
	if i := bytes.LastIndexByte(w.partial, '\n'); i >= 0 {
		if !utf8.Valid(w.partial[:i]) {
			w.bad = true
		}
		w.partial = append(w.partial[:0], w.partial[i+1:]...)
	}
	return len(p), nil
}

// hostileResult is what one hostile capture gave.
type hostileResult struct {
	*collector
	code   int
	stderr string
}

// hostileCase is one hostile capture and what wscap must make of it.
type hostileCase struct {
	name    string
	capture func() []byte
	args    []string
	exit    int
	stderr  string   // substring of the one-line error, when exit is 2
	codes   []string // finding codes the hostile connection must get
	check   func(t *testing.T, r *hostileResult)
}

// TestHostileCaptures runs wscap over captures built to hurt it (see
// internal/hostile). Each must be analysed with bounded memory, the problem
// must be named by a finding or a one-line error, and the ordinary
// connection every capture carries must come out whole.
func TestHostileCaptures(t *testing.T) {
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hostile.pcap")
			data := tc.capture()
			size := len(data)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			data = nil

			args := append(append([]string{"read", "--format", "jsonl"}, tc.args...), path)
			r := &hostileResult{collector: &collector{}}
			var errb bytes.Buffer
			start := time.Now()
			peak, allocated := measureHeap(func() { r.code = run(args, bytes.NewReader(nil), r.collector, &errb) })
			r.stderr = errb.String()
			t.Logf("jsonl: %d-byte capture, %v, peak heap +%.1f MiB, allocated %.1f MiB, %d lines",
				size, time.Since(start).Round(time.Millisecond), mib(peak), mib(allocated), r.lines)
			if peak > heapLimit {
				t.Errorf("peak heap +%.1f MiB, limit %d MiB", mib(peak), heapLimit>>20)
			}
			checkHostileRun(t, tc, r)

			targs := append(append([]string{"read"}, tc.args...), path)
			var tout tableOut
			var terr bytes.Buffer
			tpeak, _ := measureHeap(func() { r.code = run(targs, bytes.NewReader(nil), &tout, &terr) })
			t.Logf("table: peak heap +%.1f MiB, %d bytes of output", mib(tpeak), tout.n)
			if tpeak > heapLimit {
				t.Errorf("table: peak heap +%.1f MiB, limit %d MiB", mib(tpeak), heapLimit>>20)
			}
			if r.code != tc.exit || terr.String() != r.stderr {
				t.Errorf("table: exit %d, stderr %q; jsonl gave %d, %q", r.code, terr.String(), tc.exit, r.stderr)
			}
			if tout.bad || !utf8.Valid(tout.partial) {
				t.Errorf("table output is not valid UTF-8")
			}
		})
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

func checkHostileRun(t *testing.T, tc hostileCase, r *hostileResult) {
	t.Helper()
	if r.bad != "" {
		t.Errorf("invalid JSON line: %q", r.bad)
	}
	if r.code != tc.exit {
		t.Errorf("exit status %d, want %d; stderr: %s", r.code, tc.exit, r.stderr)
	}
	switch {
	case tc.exit == exitError:
		if !strings.Contains(r.stderr, tc.stderr) || !strings.HasPrefix(r.stderr, "wscap: ") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("stderr %q, want one wscap: line containing %q", r.stderr, tc.stderr)
		}
	case r.stderr != "":
		t.Errorf("stderr: %s", r.stderr)
	}
	codes := r.codes()
	for _, c := range tc.codes {
		if codes[c] == 0 {
			t.Errorf("no %s finding; hostile findings: %v", c, codes)
		}
	}
	checkOrdinary(t, r)
	if r.last == nil || r.last["kind"] != "totals" {
		t.Errorf("the last record is not totals: %v", r.last)
	} else {
		p := r.last["packets"].(map[string]any)
		sum := 0.0
		for _, k := range []string{"websocket", "other_tcp", "not_tcp", "undecodable", "ip_fragments"} {
			sum += p[k].(float64)
		}
		if sum != p["read"] {
			t.Errorf("packets do not add up: %v", p)
		}
	}
	if tc.check != nil {
		tc.check(t, r)
	}
}

// checkOrdinary checks that the ordinary connection came out whole: its
// handshake, every message in order, a clean close, no finding.
func checkOrdinary(t *testing.T, r *hostileResult) {
	t.Helper()
	if r.ordinaryID == 0 {
		t.Errorf("the ordinary connection was not reported")
		return
	}
	var got, want []string
	for _, m := range r.ordinary {
		got = append(got, describeMessage(m))
	}
	for _, m := range hostile.OrdinaryMessages() {
		s := fmt.Sprintf("%s %s %q", m.From, m.Opcode, m.Payload)
		if m.Opcode == "close" {
			s = fmt.Sprintf("%s close %d %q", m.From, m.CloseCode, m.Payload)
		}
		want = append(want, s)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ordinary connection's messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range r.findings {
		if f.conn == r.ordinaryID {
			t.Errorf("finding on the ordinary connection: %s", f.code)
		}
	}
	for _, c := range r.conns {
		if c["conn"] == r.ordinaryID && c["end"] != "close-handshake" {
			t.Errorf("ordinary connection ended %v", c["end"])
		}
	}
}

func describeMessage(m map[string]any) string {
	if m["opcode"] == "close" {
		return fmt.Sprintf("%s close %v %q", m["from"], m["close_code"], m["close_reason"])
	}
	var payload []byte
	if s, ok := m["text"].(string); ok {
		payload = []byte(s)
	} else if s, ok := m["data"].(string); ok {
		payload, _ = base64.StdEncoding.DecodeString(s)
	}
	return fmt.Sprintf("%s %s %q", m["from"], m["opcode"], payload)
}

// hostileTexts returns the text of the hostile connections' messages kept.
func hostileTexts(r *hostileResult) []string {
	var s []string
	for _, m := range r.hostile {
		if v, ok := m["text"].(string); ok {
			s = append(s, v)
		}
	}
	return s
}

func hostileCases() []hostileCase {
	return []hostileCase{
		// Capture files that lie about lengths.
		{name: "pcap snaplen 4GiB, record of 4GiB", capture: func() []byte { return hostile.Snaplen4G(64 << 10) },
			exit: exitError, stderr: "record longer than 262144 bytes"},
		{name: "gzip pcap snaplen 4GiB, 128MiB record", capture: func() []byte { return hostile.GzipSnaplenBomb(128 << 20) },
			exit: exitError, stderr: "record longer than 262144 bytes"},
		{name: "gzip pcapng block of 64MiB", capture: func() []byte { return hostile.GzipPcapNGBomb(64 << 20) },
			exit: exitError, stderr: "more than 1048576: the file is corrupt"},
		{name: "pcap record beyond the file", capture: func() []byte { return hostile.RecordBeyondFile(70000, 100) },
			exit: exitError, stderr: "cut off in the middle of a packet"},
		{name: "pcap caplen over length", capture: hostile.CaplenOverLen,
			exit: exitError, stderr: "capture length exceeds original packet length"},
		{name: "pcapng block length 7", capture: func() []byte { return hostile.PcapNGBogusBlock(7) },
			exit: exitError, stderr: "hostile.pcap: "},
		{name: "pcapng block length 4GiB", capture: func() []byte { return hostile.PcapNGBogusBlock(0xfffffff0) },
			exit: exitError, stderr: "hostile.pcap: "},
		{name: "pcapng caplen 4GiB", capture: hostile.PcapNGBogusCaplen,
			exit: exitError, stderr: "hostile.pcap: "},

		// WebSocket traffic built to exhaust memory or time.
		{name: "tiny frames", capture: func() []byte { return hostile.TinyFrames(10000) },
			codes: []string{"close-handshake-missing"},
			check: func(t *testing.T, r *hostileResult) {
				if r.hostileN != 20000 {
					t.Errorf("%d messages of the hostile connection, want 20000", r.hostileN)
				}
			}},
		{name: "endless continuation chain", capture: func() []byte { return hostile.ContinuationChain(4000, 1000) },
			args: []string{"--max-message", "262144"}, codes: []string{"cap-message", "connection-open-at-end"},
			check: func(t *testing.T, r *hostileResult) {
				if len(r.hostile) != 1 || r.hostile[0]["truncated"] != true || r.hostile[0]["incomplete"] != true ||
					r.hostile[0]["frames"] != 4001.0 || r.hostile[0]["wire_length"] != 4001000.0 {
					t.Errorf("want one truncated, incomplete message of 4001 frames and 4001000 bytes: %v", r.hostile)
				}
			}},
		{name: "deflate bomb", capture: func() []byte { return hostile.DeflateBomb(64<<20, 2) },
			args: []string{"--max-message", "1048576", "--max-inflate-ratio", "0"}, codes: []string{"cap-message"},
			check: func(t *testing.T, r *hostileResult) {
				if n := r.codes()["cap-message"]; n != 2 {
					t.Errorf("%d cap-message findings, want 2", n)
				}
				if len(r.hostile) != 5 || r.hostile[0]["length"] != float64(64<<20) || r.hostile[0]["truncated"] != true {
					t.Errorf("want 2 bombs of 64 MiB, truncated, then 3 messages: %v", r.hostile)
				}
				if txt := hostileTexts(r); len(txt) != 1 || txt[0] != "after the bomb" {
					t.Errorf("texts after the bombs: %q", txt)
				}
			}},
		{name: "invalid UTF-8 everywhere", capture: hostile.InvalidUTF8,
			codes: []string{"message-text-invalid-utf8", "close-reason-invalid-utf8"},
			check: func(t *testing.T, r *hostileResult) {
				if n := r.codes()["message-text-invalid-utf8"]; n != 4 {
					t.Errorf("%d message-text-invalid-utf8 findings, want 4", n)
				}
				if n := r.codes()["close-reason-invalid-utf8"]; n != 2 {
					t.Errorf("%d close-reason-invalid-utf8 findings, want 2", n)
				}
				for _, m := range r.hostile {
					if m["opcode"] == "text" && m["text"] != nil {
						t.Errorf("invalid text given as text: %v", m)
					}
				}
				if len(r.handshakes) != 2 {
					t.Errorf("%d handshakes", len(r.handshakes))
				}
			}},
		{name: "100000 request headers", capture: func() []byte { return hostile.ManyHeaders(100000, false) },
			codes: []string{"handshake-too-large"}, check: notDecoded},
		{name: "100000 request headers under --max-handshake 16MiB", capture: func() []byte { return hostile.ManyHeaders(100000, false) },
			args: []string{"--max-handshake", "16777216"}, codes: []string{"handshake-too-large"}, check: notDecoded},
		{name: "100000 response headers", capture: func() []byte { return hostile.ManyHeaders(100000, true) },
			codes: []string{"handshake-too-large"}, check: notDecoded},
		{name: "garbage after the 101", capture: func() []byte { return hostile.GarbageAfter101(256<<10, 1) },
			codes: []string{"frame-reserved-opcode", "frame-rsv-not-negotiated"}},
		{name: "frame header announcing 2^63-1 bytes", capture: func() []byte { return hostile.HugeFrameHeader(1<<63 - 1) },
			codes: []string{"cap-frame", "frame-resync"}, check: afterHugeFrame},
		{name: "frame header announcing 2^63 bytes", capture: func() []byte { return hostile.HugeFrameHeader(1 << 63) },
			codes: []string{"frame-length-msb-set", "frame-resync"}, check: afterHugeFrame},
		{name: "frame of 2^63-1 bytes under --max-frame 2^64-1", capture: func() []byte { return hostile.HugeFrameHeader(1<<63 - 1) },
			args: []string{"--max-frame", "18446744073709551615", "--max-message", "512"}, codes: []string{"cap-message"},
			check: func(t *testing.T, r *hostileResult) {
				var binary []map[string]any
				for _, m := range r.hostile {
					if m["opcode"] == "binary" {
						binary = append(binary, m)
					}
				}
				if len(binary) != 1 || binary[0]["truncated"] != true || binary[0]["incomplete"] != true {
					t.Errorf("want one truncated, incomplete binary message: %v", r.hostile)
				}
			}},
		{name: "out-of-order flood under --max-buffered 512KiB", capture: func() []byte { return hostile.OutOfOrderFlood(1000, 128, 60000) },
			args: []string{"--max-buffered", "524288"}, codes: []string{"cap-buffered", "tcp-gap"},
			check: func(t *testing.T, r *hostileResult) {
				if r.hostileN < 100 {
					t.Errorf("only %d of 128 messages after the hole decoded", r.hostileN)
				}
			}},
		// One connection's segments in reverse or shuffled order: each
		// costs O(log n) to buffer (the issue measured 77 s for 200,000
		// reversed ones when it was a sorted slice).
		{name: "100000 one-byte segments reversed", capture: func() []byte { return hostile.ReorderedSegments(100000, false) },
			args: []string{"--max-buffered", "64MiB"}, check: reorderedWhole(100000)},
		{name: "100000 one-byte segments shuffled", capture: func() []byte { return hostile.ReorderedSegments(100000, true) },
			args: []string{"--max-buffered", "64MiB"}, check: reorderedWhole(100000)},
		// Under the default 4 MiB a direction holds ~64,000 one-byte
		// segments (each counts 64 bytes of bookkeeping): the reassembly
		// gives up on the hole, and the message after is still decoded.
		{name: "200000 one-byte segments reversed, default caps", capture: func() []byte { return hostile.ReorderedSegments(200000, false) },
			codes: []string{"cap-buffered", "tcp-gap"},
			check: func(t *testing.T, r *hostileResult) {
				if txt := hostileTexts(r); len(txt) == 0 || txt[len(txt)-1] != "after the reordered message" {
					t.Errorf("texts of the hostile connection: %q", txt)
				}
			}},
		// SYN floods: a connection that carried no byte is a compact
		// half-open entry, and does not push the ordinary connection out
		// (before, 500,000 SYNs took 1.1 GB and evicted it).
		{name: "SYN flood of 200000", capture: func() []byte { return hostile.SYNFlood(200000) },
			check: synFlood(200000, 0)},
		{name: "SYN flood of 300000 under --max-half-open 100000", capture: func() []byte { return hostile.SYNFlood(300000) },
			args: []string{"--max-half-open", "100000"}, check: synFlood(300000, 200000)},
		// The output bomb: 2,000 messages that inflate 1000:1.
		// Past the first 4 MiB the ratio stops inflation (before: 10 GB
		// of output from follow).
		{name: "2000 messages inflating 1000:1", capture: func() []byte { return hostile.RepeatedBomb(1<<20, 2000) },
			codes: []string{"cap-inflate"},
			check: func(t *testing.T, r *hostileResult) {
				whole, undecodable := 0, 0
				for _, m := range r.hostile {
					if m["undecodable"] == true {
						undecodable++
					} else if m["length"] == float64(1<<20) {
						whole++
					}
				}
				if n := r.codes()["cap-inflate"]; n != 1 || whole != 4 || r.hostileN != 2003 {
					t.Errorf("%d cap-inflate findings, %d of %d messages inflated whole (%d undecodable of those kept)", n, whole, r.hostileN, undecodable)
				}
			}},
		// Records are kept per round of packets before they are written
		// (engine.go): a round of bombs must not hold every message kept.
		{name: "deflate bombs in one round", capture: func() []byte { return hostile.DeflateBomb(5<<20, 16) },
			args: []string{"--max-message", "4194304", "--max-inflate-ratio", "0"}, codes: []string{"cap-message"},
			check: func(t *testing.T, r *hostileResult) {
				if n := r.codes()["cap-message"]; n != 16 {
					t.Errorf("%d cap-message findings, want 16", n)
				}
			}},
	}
}

// synFlood checks the totals of a SYN flood of n connections, forgotten of
// them to stay within --max-half-open.
func synFlood(n, forgotten int) func(t *testing.T, r *hostileResult) {
	return func(t *testing.T, r *hostileResult) {
		t.Helper()
		p, _ := r.last["protocols"].(map[string]any)
		if p["other"] != float64(n) || p["websocket"] != 1.0 {
			t.Errorf("protocols %v, want %d other and 1 websocket", p, n)
		}
		if got, _ := r.last["half_open_forgotten"].(float64); got != float64(forgotten) {
			t.Errorf("%v half-open connections forgotten, want %d", r.last["half_open_forgotten"], forgotten)
		}
		if r.last["evicted_connections"] != nil {
			t.Errorf("connections evicted: %v", r.last["evicted_connections"])
		}
	}
}

// reorderedWhole checks that the message sent in reordered one-byte
// segments came out whole, then the message after it, without a finding.
func reorderedWhole(n int) func(t *testing.T, r *hostileResult) {
	return func(t *testing.T, r *hostileResult) {
		t.Helper()
		if len(r.hostile) != 4 || r.hostile[0]["length"] != float64(n) || r.hostile[0]["truncated"] == true ||
			describeMessage(r.hostile[1]) != `server text "after the reordered message"` {
			t.Errorf("want a %d-byte message, the text after it and the closes: %v", n, r.hostile)
		}
		if codes := r.codes(); len(codes) != 0 {
			t.Errorf("findings: %v", codes)
		}
	}
}

// notDecoded checks that the hostile connection's frames were not decoded.
func notDecoded(t *testing.T, r *hostileResult) {
	if r.hostileN != 0 {
		t.Errorf("%d messages decoded on a connection whose handshake was too large: %v", r.hostileN, r.hostile)
	}
}

// afterHugeFrame checks that the frames after a garbage header decode.
func afterHugeFrame(t *testing.T, r *hostileResult) {
	if txt := hostileTexts(r); strings.Join(txt, ",") != "after 1,after 2" {
		t.Errorf("texts after the huge header: %q", txt)
	}
}

// TestTimeBackwardsCapture: a capture whose packets step back two hours
// each is decoded whole; no duration or round trip comes out negative, the
// totals count the steps back, and each connection says why.
func TestTimeBackwardsCapture(t *testing.T) {
	b, err := os.ReadFile("../../testdata/real/gorilla-basic.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 {
		t.Fatalf("not a little-endian microsecond pcap")
	}
	n := 0
	base := binary.LittleEndian.Uint32(b[24:])
	for off := 24; off+16 <= len(b); n++ {
		binary.LittleEndian.PutUint32(b[off:], base-uint32(n)*7200)
		off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
	}
	path := filepath.Join(t.TempDir(), "backwards.pcap")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	want, _, _ := wscap(t, "read", "--format", "jsonl", "../../testdata/real/gorilla-basic.pcap")
	out, stderr, code := wscap(t, "read", "--format", "jsonl", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	recs := records(t, out)
	msgs, back := 0, 0
	for _, r := range recs {
		switch r["kind"] {
		case "message":
			msgs++
		case "finding":
			if r["code"] == "capture-time-backwards" {
				back++
			}
		case "connection":
			if d := r["duration"].(float64); d < 0 {
				t.Errorf("duration %v", d)
			}
			if rtt, ok := r["rtt"].(map[string]any); ok && rtt["min_ms"].(float64) < 0 {
				t.Errorf("rtt %v", rtt)
			}
		case "totals":
			if r["timestamps_backwards"] != float64(n-1) {
				t.Errorf("totals %v, want %d packets stamped back", r, n-1)
			}
		}
	}
	if wantMsgs := strings.Count(want, `"kind":"message"`); msgs != wantMsgs || back != 1 {
		t.Errorf("%d messages (want %d), %d time findings", msgs, wantMsgs, back)
	}
	stats, _, _ := wscap(t, "stats", path)
	if strings.Contains(stats, "| -") || !strings.Contains(stats, "timestamps: ") {
		t.Errorf("stats:\n%s", stats)
	}
}

// TestFollowBomb: follow over decompression bombs prints a bounded
// transcript: the ratio stops inflating, and what was inflated shows a
// prefix per message unless --full or --msg asks for all of it.
func TestFollowBomb(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bomb.pcap")
	if err := os.WriteFile(path, hostile.RepeatedBomb(1<<20, 2000), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		min, max int // bytes of output
		has      string
	}{
		{"default", nil, 20 << 10, 1 << 20, "cap-inflate"},
		{"--full", []string{"--full"}, 4 << 22, 6 << 22, "cap-inflate"},
		{"--msg 2", []string{"--msg", "2"}, 4 << 20, 5 << 20, "00000000  00 00 00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"follow", "--conn", "2", path}, tc.args...), bytes.NewReader(nil), &out, &errb)
			t.Logf("%d bytes of output", out.Len())
			if code != 0 || errb.Len() > 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if out.Len() < tc.min || out.Len() > tc.max || !strings.Contains(out.String(), tc.has) {
				t.Errorf("%d bytes of output, want %d to %d holding %q", out.Len(), tc.min, tc.max, tc.has)
			}
		})
	}
}
