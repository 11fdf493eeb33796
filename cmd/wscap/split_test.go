package main

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wscap/wscap/internal/gen"
	"github.com/wscap/wscap/output"
	"github.com/wscap/wscap/pcap"
)

// splitCase is a run (one capture or several files read in order) whose
// split is checked, with the flags read needs for it (a key log).
type splitCase struct {
	name  string
	files []string
	args  []string
	// byAddr and byPorts are the fragments of incomplete datagrams the
	// summary must report, placed by address pair and by their first
	// fragment's ports.
	byAddr, byPorts int
}

func splitCases(t *testing.T) []splitCase {
	t.Helper()
	const td = "../../testdata/"
	cases := []splitCase{
		{name: "mixed", files: []string{td + "nonws/mixed.pcap"}, args: []string{"--keylog", td + "nonws/mixed.keys"}},
		{name: "dsb", files: []string{td + "nonws/wss-chromium-dsb.pcapng"}},
		{name: "h2-wss", files: []string{td + "h2/chromium-h2-wss.pcap"}, args: []string{"--keylog", td + "h2/chromium-h2-wss.keys"}},
		{name: "h2c-two", files: []string{td + "h2/node-h2c-two.pcap"}},
		{name: "snaplen", files: []string{td + "snaplen/gorilla-basic-s96.pcap"}},
		{name: "wstunnel-ssh", files: []string{td + "public/zeek/wstunnel-ssh.pcap"}},
		{name: "vmess", files: []string{td + "public/ndpi/tls_heur__vmess-websocket.pcapng"}},
	}
	// Several files as one run: rotated captures of different link types
	// and formats, connections on the same addresses.
	var several []string
	for _, dir := range []string{"real", "app"} {
		m, _ := filepath.Glob(td + dir + "/*.pcap*")
		several = append(several, m...)
	}
	several = append(several, publicCaptures(t)...)
	if len(several) < 30 {
		t.Fatalf("only %d captures for the several-files case", len(several))
	}
	// In the order of their times, as rotated captures are: the run's
	// last packet is then its latest one in a shard too, so that a
	// connection open at the end does not end before its last packet.
	first := map[string]int64{}
	for _, f := range several {
		if p := readPackets(t, false, f); len(p) > 0 {
			first[f] = p[0].ts
		}
	}
	slices.SortStableFunc(several, func(a, b string) int { return cmp.Compare(first[a], first[b]) })
	cases = append(cases, splitCase{name: "several", files: several})
	dir := t.TempDir()
	// Generated: many connections open at once (compressed, fragmented
	// messages, IPv6), as plain ws://, as wss:// with a key log, over h2.
	for _, g := range []struct {
		name string
		o    gen.Options
		p    gen.ScenarioParams
	}{
		{"medium", gen.Options{Seed: 1}, gen.ScenarioParams{Conns: 150, Messages: 8}},
		{"medium-tls", gen.Options{Seed: 2, Format: gen.FormatPcapNG, Link: gen.LinkSLL}, gen.ScenarioParams{Conns: 40, Messages: 4, TLS: true}},
		{"medium-h2", gen.Options{Seed: 3, Link: gen.LinkRaw}, gen.ScenarioParams{Conns: 40, Messages: 4, H2: true}},
	} {
		var keys bytes.Buffer
		g.o.KeyLog = &keys
		c, err := gen.NewScenario("medium", g.o, g.p)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, g.name+".cap")
		writeCapture(t, c, path)
		tc := splitCase{name: g.name, files: []string{path}}
		if keys.Len() > 0 {
			os.WriteFile(path+".keys", keys.Bytes(), 0o600)
			tc.args = []string{"--keylog", path + ".keys"}
		}
		cases = append(cases, tc)
	}
	frag, addr, ports := fragmentedCapture(t, dir)
	cases = append(cases, splitCase{name: "ip-fragments", files: []string{frag}, byAddr: addr, byPorts: ports})
	return cases
}

func writeCapture(t *testing.T, c *gen.Capture, path string) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := c.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fragmentedCapture writes connections whose datagrams are cut into IP
// fragments (IPv4 and IPv6, in order and last first), two of them between
// the same two addresses, one that loses the first fragment of a
// datagram (its others are placed by address pair) and one that loses the
// second (placed by the first's ports) after which nothing comes for a
// minute (the decoder gives the datagram up on its timeout, not at the
// end). It returns the path and the fragments of incomplete datagrams.
func fragmentedCapture(t *testing.T, dir string) (path string, byAddr, byPorts int) {
	t.Helper()
	frag := gen.FragmentIP(600, nil)
	lose := func(i int) gen.IPTransform {
		return func(info gen.ConnInfo, seg *gen.Segment, ip []byte) [][]byte {
			pkts := frag(info, seg, ip)
			if seg.Step == stepServerText && seg.Dir == gen.FromServer && len(pkts) > 1 {
				pkts = slices.Delete(pkts, i, i+1)
			}
			return pkts
		}
	}
	c := gen.New(gen.Options{Seed: 5})
	start := c.Options().Start
	same := netip.MustParseAddr("198.18.0.7")
	for i, o := range []gen.ConnOptions{
		{IPTransform: frag},
		{IPTransform: gen.ReverseFragments(frag)},
		{IPv6: true, IPTransform: frag},
		{IPv6: true, IPTransform: gen.ReverseFragments(frag)},
		{IPTransform: frag, Client: netip.AddrPortFrom(same, 50001)},
		{IPTransform: gen.ReverseFragments(frag), Client: netip.AddrPortFrom(same, 50002)},
		{},
		{IPv6: true},
		{IPTransform: lose(0)},
		{IPv6: true, IPTransform: lose(0)},
		{IPTransform: lose(1)},
	} {
		o.Start = start.Add(time.Duration(i) * 3 * time.Millisecond)
		conversation(c, o)
	}
	conversation(c, gen.ConnOptions{Start: start.Add(time.Minute)})
	path = filepath.Join(dir, "fragments.pcap")
	writeCapture(t, c, path)
	// The text of the server is cut in two: one lost leaves the other.
	return path, 2, 1
}

// splitRun splits files into n shards in a new directory and returns the
// shard paths and the summary line.
func splitRun(t *testing.T, n int, files ...string) ([]string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shards")
	_, stderr, code := wscap(t, append([]string{"split", "-n", strconv.Itoa(n), "-o", dir}, files...)...)
	if code != exitOK {
		t.Fatalf("split -n %d: exit %d: %s", n, code, stderr)
	}
	shards, _ := filepath.Glob(filepath.Join(dir, "shard-*.pcapng"))
	if len(shards) != n {
		t.Fatalf("split -n %d wrote %d shard files", n, len(shards))
	}
	for i, s := range shards {
		if filepath.Base(s) != fmt.Sprintf("shard-%03d.pcapng", i) {
			t.Fatalf("shard %d is %s", i, s)
		}
	}
	return shards, strings.TrimSpace(stderr)
}

// positional matches the positions of a record's packet that a finding's
// detail may name.
var positional = regexp.MustCompile(`packet \d+`)

// normalRecords reads the files as one run with read --format jsonl and
// returns its records but the totals, without what depends on where they
// were in the run (connection numbers, packet numbers, file indexes), as
// a multiset, and the packets the totals counted.
func normalRecords(t *testing.T, args []string, files ...string) (map[string]int, float64) {
	t.Helper()
	out, stderr, code := wscap(t, append(append([]string{"read", "--format", "jsonl"}, args...), files...)...)
	if code != exitOK {
		t.Fatalf("read %v: exit %d: %s", files, code, stderr)
	}
	recs := map[string]int{}
	read := -1.0
	all := records(t, out)
	// A connection open at the end of the input ends at the run's last
	// packet, which in a shard is an earlier one: the records it ends
	// with are stamped with that packet's time, and its duration counts
	// up to it.
	atEnd := map[any]any{} // conn -> the time of its end
	for _, r := range all {
		if r["kind"] == "connection" && r["end"] == "end-of-capture" {
			atEnd[r["conn"]] = r["ts"]
		}
	}
	for _, r := range all {
		if r["kind"] == "totals" {
			read = r["packets"].(map[string]any)["read"].(float64)
			continue
		}
		if end, ok := atEnd[r["conn"]]; ok && r["ts"] == end {
			delete(r, "ts")
			delete(r, "duration")
		}
		delete(r, "conn")
		delete(r, "pkt")
		delete(r, "file")
		if d, ok := r["detail"].(string); ok {
			r["detail"] = positional.ReplaceAllString(d, "packet N")
		}
		b, err := json.Marshal(r) // map keys sorted
		if err != nil {
			t.Fatal(err)
		}
		recs[string(b)]++
	}
	if read < 0 {
		t.Fatalf("read %v: no totals", files)
	}
	return recs, read
}

// capturedPacket is a packet as a key of a multiset.
type capturedPacket struct {
	ts       int64
	length   int
	linkType uint16
	data     string
}

// readPackets returns the packets of the files, in order; every shard must
// be pcapng.
func readPackets(t *testing.T, pcapng bool, files ...string) []capturedPacket {
	t.Helper()
	var pkts []capturedPacket
	for _, name := range files {
		src, err := pcap.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		if pcapng && (src.Format() != pcap.FormatPcapNG || src.Gzip()) {
			t.Errorf("%s: %v", name, src.Format())
		}
		for {
			rec, err := src.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			pkts = append(pkts, capturedPacket{rec.TS.UnixNano(), rec.Length, uint16(rec.LinkType), string(rec.Data)})
		}
		src.Close()
	}
	return pkts
}

// counts makes a multiset.
func counts[T comparable](xs []T) map[T]int {
	m := map[T]int{}
	for _, x := range xs {
		m[x]++
	}
	return m
}

// diffCounts describes how two multisets differ (at most a few entries).
func diffCounts[T comparable](got, want map[T]int, show func(T) string) string {
	var d []string
	for k, n := range want {
		if got[k] != n {
			d = append(d, fmt.Sprintf("%d times, want %d: %s", got[k], n, show(k)))
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("%d times, want 0: %s", n, show(k)))
		}
	}
	slices.Sort(d)
	return strings.Join(d[:min(len(d), 6)], "\n")
}

// TestSplitUnion: split into 1, 2, 3 and 7 shards, the records read finds
// in all shards are those it finds in the input (connection and packet
// numbers aside); the shards hold exactly the input's packets, bytes,
// lengths and timestamps unchanged, each shard a pcapng file; a TCP
// connection never shows in two shards; every shard carries the input's
// Decryption Secrets; the summary counts right.
func TestSplitUnion(t *testing.T) {
	for _, tc := range splitCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			want, wantRead := normalRecords(t, tc.args, tc.files...)
			if len(want) == 0 {
				t.Fatal("the input has no records")
			}
			wantPkts := counts(readPackets(t, false, tc.files...))
			secrets := fileSecrets(tc.files)
			for _, n := range []int{1, 2, 3, 7} {
				shards, summary := splitRun(t, n, tc.files...)
				got := map[string]int{}
				gotRead := 0.0
				for _, s := range shards {
					recs, read := normalRecords(t, tc.args, s)
					for k, c := range recs {
						got[k] += c
					}
					gotRead += read
				}
				if d := diffCounts(got, want, func(s string) string { return s[:min(len(s), 300)] }); d != "" {
					t.Errorf("-n %d: the shards' records differ from the input's:\n%s", n, d)
				}
				if gotRead != wantRead {
					t.Errorf("-n %d: the shards' totals count %v packets, the input's %v", n, gotRead, wantRead)
				}
				var perShard []int
				var all []capturedPacket
				for _, s := range shards {
					p := readPackets(t, true, s)
					perShard = append(perShard, len(p))
					all = append(all, p...)
				}
				if d := diffCounts(counts(all), wantPkts, func(p capturedPacket) string {
					return fmt.Sprintf("%d %d bytes of %d", p.ts, len(p.data), p.length)
				}); d != "" {
					t.Errorf("-n %d: the shards' packets differ from the input's:\n%s", n, d)
				}
				wantSummary := fmt.Sprintf("split %d packets into %d shard files in ", len(all), n)
				if !strings.Contains(summary, wantSummary) || !strings.Contains(summary, ": "+strings.Trim(fmt.Sprint(perShard), "[]")) {
					t.Errorf("-n %d: summary %q, packets per shard %v", n, summary, perShard)
				}
				if tc.byAddr+tc.byPorts > 0 {
					w := fmt.Sprintf("; %d IP fragments of incomplete datagrams, %d placed by the TCP ports of their first fragment, %d by address pair only", tc.byAddr+tc.byPorts, tc.byPorts, tc.byAddr)
					if !strings.HasSuffix(summary, w) {
						t.Errorf("-n %d: summary %q, want it to end %q", n, summary, w)
					}
				} else if strings.Contains(summary, "fragments") {
					t.Errorf("-n %d: summary %q", n, summary)
				}
				checkFlowsApart(t, shards)
				for _, s := range shards {
					f, _ := os.Open(s)
					got, err := pcap.DecryptionSecrets(f)
					f.Close()
					if err != nil || !slices.EqualFunc(got, secrets, bytes.Equal) {
						t.Errorf("%s: %d blobs of secrets (%v), want %d", s, len(got), err, len(secrets))
					}
				}
				if n > 1 && len(wantPkts) > 1000 && slices.Min(perShard) == 0 {
					t.Errorf("-n %d: a shard is empty: %v", n, perShard)
				}
			}
		})
	}
}

// checkFlowsApart fails when the packets of one TCP flow (a pair of
// address and port) are in two shards.
func checkFlowsApart(t *testing.T, shards []string) {
	t.Helper()
	where := map[flowID]int{}
	for i, s := range shards {
		src, err := pcap.Open(s)
		if err != nil {
			t.Fatal(err)
		}
		dec := pcap.NewDecoder()
		var seg pcap.Segment
		for {
			rec, err := src.Next()
			if err != nil {
				break
			}
			if dec.DecodeRecord(rec, &seg) != pcap.ClassTCP {
				continue
			}
			f := flowOf(seg.Src, seg.Dst)
			if j, ok := where[f]; ok && j != i {
				t.Errorf("flow %v-%v is in %s and in shard %d", f.a, f.b, s, j)
				break
			}
			where[f] = i
		}
		src.Close()
	}
}

// TestSplitDeterministic: the same inputs give the same bytes, and the
// medium capture spreads over the shards.
func TestSplitDeterministic(t *testing.T) {
	dir := t.TempDir()
	c, err := gen.NewScenario("medium", gen.Options{Seed: 1}, gen.ScenarioParams{Conns: 200, Messages: 4})
	if err != nil {
		t.Fatal(err)
	}
	medium := filepath.Join(dir, "medium.pcap")
	writeCapture(t, c, medium)
	frag, _, _ := fragmentedCapture(t, dir)
	for _, files := range [][]string{{medium}, {frag, "../../testdata/nonws/wss-chromium-dsb.pcapng", medium}} {
		a, _ := splitRun(t, 5, files...)
		b, _ := splitRun(t, 5, files...)
		for i := range a {
			x, _ := os.ReadFile(a[i])
			y, _ := os.ReadFile(b[i])
			if !bytes.Equal(x, y) || len(x) == 0 {
				t.Errorf("%v: shard %d differs between two splits (%d and %d bytes)", files, i, len(x), len(y))
			}
		}
	}
	// 200 connections over 5 shards: none gets less than half its share.
	shards, summary := splitRun(t, 5, medium)
	for _, s := range shards {
		if st, _ := os.Stat(s); st.Size() < 10<<10 {
			t.Errorf("%s: %d bytes (%s)", s, st.Size(), summary)
		}
	}
}

// TestSplitHash: the shard of a connection is the same in both directions,
// on every machine: its Community ID's first 8 bytes modulo N (fixed
// values), and an address pair's the same hash with protocol and ports 0.
func TestSplitHash(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		n    int
		want int
	}{
		{"192.168.1.2:50000", "10.0.0.1:443", 7, 3},
		{"[2001:db8::1]:40000", "[2001:db8::2]:8080", 7, 5},
		{"127.0.0.1:8080", "127.0.0.1:39334", 3, 1},
		{"127.0.0.1:8080", "127.0.0.1:39335", 1000, 482},
	} {
		a, b := netip.MustParseAddrPort(tc.a), netip.MustParseAddrPort(tc.b)
		if got, rev := flowShard(a, b, tc.n), flowShard(b, a, tc.n); got != tc.want || rev != tc.want {
			t.Errorf("%s %s: shard %d and %d, want %d", tc.a, tc.b, got, rev, tc.want)
		}
		id, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(output.CommunityID(a, b), "1:"))
		if err != nil || binary.BigEndian.Uint64(id)%uint64(tc.n) != uint64(tc.want) {
			t.Errorf("%s %s: not the Community ID's shard (%v)", tc.a, tc.b, err)
		}
		// A v4-mapped address is the IPv4 address, as in the Community ID.
		if m := netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port()); flowShard(m, b, tc.n) != tc.want {
			t.Errorf("%s %s: the mapped address gives another shard", tc.a, tc.b)
		}
		if x, y := addrShard(a.Addr(), b.Addr(), tc.n), addrShard(b.Addr(), a.Addr(), tc.n); x != y {
			t.Errorf("%s %s: address pair shards %d and %d", tc.a, tc.b, x, y)
		}
	}
	if got := addrShard(netip.MustParseAddr("192.168.1.2"), netip.MustParseAddr("10.0.0.1"), 1000); got != 468 {
		t.Errorf("address pair shard %d", got)
	}
}

// TestSplitErrors: what split refuses, with exit status 2, a one-line
// error, and no shard file written.
func TestSplitErrors(t *testing.T) {
	const c = "../../testdata/real/gorilla-basic.pcap"
	dir := t.TempDir()
	notCapture := filepath.Join(dir, "notes.txt")
	os.WriteFile(notCapture, []byte("not a capture at all\n"), 0o644)
	// A directory whose shard-001.pcapng is the input.
	inDir := filepath.Join(dir, "in")
	os.Mkdir(inDir, 0o755)
	src, _ := os.ReadFile(c)
	input := filepath.Join(inDir, "shard-001.pcapng")
	os.WriteFile(input, src, 0o644)
	// A directory that already holds a split.
	full := filepath.Join(dir, "full")
	if _, stderr, code := wscap(t, "split", "-n", "3", "-o", full, c); code != exitOK {
		t.Fatal(stderr)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-n", "0", "-o", out, c}, "-n N"},
		{[]string{"-n", "1001", "-o", out, c}, "-n N"},
		{[]string{"-o", out, c}, "-n N"},
		{[]string{"-n", "x", "-o", out, c}, "invalid argument"},
		{[]string{"-n", "2", c}, "needs -o DIR"},
		{[]string{"-n", "2", "-o", out}, "at least one capture"},
		{[]string{"-n", "2", "-o", out, "-"}, "standard input"},
		{[]string{"-n", "2", "-o", out, filepath.Join(dir, "missing.pcap")}, "missing.pcap"},
		{[]string{"-n", "2", "-o", out, c, notCapture}, "not a pcap or pcapng capture"},
		{[]string{"-n", "2", "-o", inDir, input}, "is one of the inputs"},
		{[]string{"-n", "2", "--force", "-o", inDir, input}, "is one of the inputs"},
		{[]string{"-n", "1", "--force", "-o", inDir, input}, "is one of the inputs"}, // shard-001 would be removed
		{[]string{"-n", "3", "-o", full, c}, "--force"},
		{[]string{"-n", "2", "-o", file, c}, "not a directory"},
	} {
		_, stderr, code := wscap(t, append([]string{"split"}, tc.args...)...)
		if code != exitError || !strings.Contains(stderr, tc.msg) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("split %v: exit %d, %q (want %q)", tc.args, code, stderr, tc.msg)
		}
		if m, _ := filepath.Glob(filepath.Join(out, "*")); len(m) > 0 {
			t.Errorf("split %v wrote %v", tc.args, m)
		}
	}
	if b, _ := os.ReadFile(input); !bytes.Equal(b, src) {
		t.Errorf("the input was changed")
	}
	// --force replaces a split; the shard files beyond N go.
	if _, stderr, code := wscap(t, "split", "-n", "2", "--force", "-o", full, c); code != exitOK {
		t.Fatal(stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(full, "*")); len(m) != 2 {
		t.Errorf("after --force -n 2: %v", m)
	}
}

// TestSplitCutInput: a file cut in the middle of a packet is reported
// (exit 2) after its packets before the cut, and those of the next file,
// were written.
func TestSplitCutInput(t *testing.T) {
	src, _ := os.ReadFile("../../testdata/real/gorilla-basic.pcap")
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	os.WriteFile(cut, src[:len(src)-10], 0o644)
	other := "../../testdata/public/zeek/websocket.pcap"
	dir := filepath.Join(t.TempDir(), "shards")
	_, stderr, code := wscap(t, "split", "-n", "2", "-o", dir, cut, other)
	if code != exitError || !strings.Contains(stderr, "cut off") {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	shards, _ := filepath.Glob(filepath.Join(dir, "shard-*.pcapng"))
	want := len(readPackets(t, false, other))
	if f, err := pcap.Open(cut); err == nil {
		for _, err := f.Next(); err == nil; _, err = f.Next() {
			want++
		}
		f.Close()
	}
	if got := len(readPackets(t, true, shards...)); got != want {
		t.Errorf("%d packets in the shards, want %d", got, want)
	}
}
