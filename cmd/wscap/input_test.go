package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/wscap/wscap/internal/gen"
)

// generate writes a generator scenario to a temporary file.
func generate(t *testing.T, scenario string, o gen.Options, p gen.ScenarioParams) (string, *gen.Manifest) {
	t.Helper()
	c, err := gen.NewScenario(scenario, o, p)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := c.Write(&buf)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("%s-%s-%s.cap", scenario, o.Format, o.Link))
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, m
}

// digestOf computes the generator's digest over wscap's decoded messages.
func digestOf(t *testing.T, out string) (gen.Digest, []string) {
	var d gen.Digest
	var bad []string
	for _, r := range records(t, out) {
		switch r["kind"] {
		case "message":
			op := opcodeByName(r["opcode"].(string))
			var payload []byte
			if s, ok := r["text"].(string); ok {
				payload = []byte(s)
			} else if s, ok := r["data"].(string); ok {
				payload, _ = base64.StdEncoding.DecodeString(s)
			}
			if cc, ok := r["close_code"].(float64); ok {
				payload = binary.BigEndian.AppendUint16(nil, uint16(cc))
				payload = append(payload, r["close_reason"].(string)...)
			}
			if r["undecodable"] == true || r["incomplete"] == true || r["truncated"] == true {
				bad = append(bad, fmt.Sprintf("conn %v pkt %v not decoded whole", r["conn"], r["pkt"]))
			}
			d.Add(r["from"] == "client", op, payload)
		case "finding":
			if r["severity"] != "info" {
				bad = append(bad, fmt.Sprintf("%v: %v", r["code"], r["detail"]))
			}
		}
	}
	return d, bad
}

func opcodeByName(name string) byte {
	for op, n := range map[byte]string{0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"} {
		if n == name {
			return op
		}
	}
	var v byte
	fmt.Sscanf(name, "0x%x", &v)
	return v
}

// TestGeneratorManifests decodes generated captures of every scenario, in
// every format and link type the generator writes, and checks every message
// against the generator's manifest (an order-independent digest of every
// message's plaintext), with no error or warning findings.
func TestGeneratorManifests(t *testing.T) {
	for _, sc := range []struct {
		name string
		p    gen.ScenarioParams
	}{{"demo", gen.ScenarioParams{}}, {"lengths", gen.ScenarioParams{}}, {"medium", gen.ScenarioParams{Conns: 12, Messages: 6}}, {"many", gen.ScenarioParams{Conns: 300}}} {
		for _, f := range []gen.Format{gen.FormatPcap, gen.FormatPcapNano, gen.FormatPcapNG} {
			for _, l := range []gen.Link{gen.LinkEthernet, gen.LinkRaw, gen.LinkSLL} {
				t.Run(fmt.Sprintf("%s/%s/%s", sc.name, f, l), func(t *testing.T) {
					path, m := generate(t, sc.name, gen.Options{Seed: 7, Format: f, Link: l}, sc.p)
					out, stderr, code := wscap(t, "read", "--format", "jsonl", path)
					if code != exitOK {
						t.Fatalf("exit %d: %s", code, stderr)
					}
					d, bad := digestOf(t, out)
					if d.String() != m.Digest || d.Count != m.DigestCount {
						t.Errorf("digest %s over %d messages, manifest %s over %d", d, d.Count, m.Digest, m.DigestCount)
					}
					for _, b := range bad {
						t.Error(b)
					}
				})
			}
		}
	}
}

// TestGeneratorTLS: the generator's wss:// captures (TLS 1.3 records,
// secrets in a key log) are byte-identical for a seed, decode with the key
// log to every message of the manifest, and without it to none.
func TestGeneratorTLS(t *testing.T) {
	for _, sc := range []struct {
		name string
		p    gen.ScenarioParams
	}{{"medium", gen.ScenarioParams{Conns: 12, Messages: 6, TLS: true}}, {"many", gen.ScenarioParams{Conns: 200, TLS: true}}} {
		t.Run(sc.name, func(t *testing.T) {
			var keys, keys2 bytes.Buffer
			path, m := generate(t, sc.name, gen.Options{Seed: 7, KeyLog: &keys}, sc.p)
			path2, _ := generate(t, sc.name, gen.Options{Seed: 7, KeyLog: &keys2}, sc.p)
			a, _ := os.ReadFile(path)
			b, _ := os.ReadFile(path2)
			if !bytes.Equal(a, b) || keys.String() != keys2.String() {
				t.Errorf("two runs with one seed differ")
			}
			kl := filepath.Join(t.TempDir(), "keys.log")
			os.WriteFile(kl, keys.Bytes(), 0o600)
			out, stderr, code := wscap(t, "read", "--format", "jsonl", "--keylog", kl, path)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			d, bad := digestOf(t, out)
			if d.String() != m.Digest || d.Count != m.DigestCount || m.DigestCount == 0 {
				t.Errorf("digest %s over %d messages, manifest %s over %d", d, d.Count, m.Digest, m.DigestCount)
			}
			for _, b := range bad {
				t.Error(b)
			}
			tot := records(t, out)
			if last := tot[len(tot)-1]; last["tls_decrypted"] != float64(m.Connections) {
				t.Errorf("totals %v", last)
			}
			out, _, _ = wscap(t, "read", "--format", "jsonl", path)
			if d, _ := digestOf(t, out); d.Count != 0 {
				t.Errorf("%d messages decoded without the key log", d.Count)
			}
		})
	}
}

// rewrite copies a pcap capture, changing each packet's link layer.
func rewrite(t *testing.T, src string, lt layers.LinkType, f func(eth []byte) []byte) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := pcapgo.NewWriterNanos(&out)
	w.WriteFileHeader(262144, lt)
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		nd := f(data)
		ci.CaptureLength, ci.Length = len(nd), len(nd)
		w.WritePacket(ci, nd)
	}
	path := filepath.Join(t.TempDir(), "rewritten.pcap")
	os.WriteFile(path, out.Bytes(), 0o644)
	return path
}

// TestLinkTypes checks the link types the generator does not write:
// 802.1Q and QinQ VLAN tags, Linux SLL2 (tcpdump -i any) and BSD NULL
// loopback, by rewriting an Ethernet capture. The messages must not change.
func TestLinkTypes(t *testing.T) {
	path, m := generate(t, "demo", gen.Options{Seed: 3}, gen.ScenarioParams{})
	vlan := func(tags ...uint16) func([]byte) []byte {
		return func(eth []byte) []byte {
			b := append([]byte{}, eth[:12]...)
			for i, tag := range tags {
				tpid := uint16(0x8100)
				if i == 0 && len(tags) > 1 {
					tpid = 0x88a8
				}
				b = binary.BigEndian.AppendUint16(b, tpid)
				b = binary.BigEndian.AppendUint16(b, tag)
			}
			return append(b, eth[12:]...)
		}
	}
	sll2 := func(eth []byte) []byte {
		b := append([]byte{}, eth[12:14]...) // protocol
		b = append(b, 0, 0)                  // reserved
		b = binary.BigEndian.AppendUint32(b, 2)
		b = binary.BigEndian.AppendUint16(b, 1) // ARPHRD_ETHER
		b = append(b, 0, 6)                     // packet type, address length
		b = append(b, eth[6:12]...)
		b = append(b, 0, 0)
		return append(b, eth[14:]...)
	}
	null := func(eth []byte) []byte {
		family := uint32(2)
		if binary.BigEndian.Uint16(eth[12:]) == 0x86dd {
			family = 30 // AF_INET6 on macOS
		}
		return append(binary.LittleEndian.AppendUint32(nil, family), eth[14:]...)
	}
	for _, tc := range []struct {
		name string
		lt   layers.LinkType
		f    func([]byte) []byte
	}{
		{"802.1Q", layers.LinkTypeEthernet, vlan(100)},
		{"QinQ", layers.LinkTypeEthernet, vlan(200, 100)},
		{"SLL2", layers.LinkTypeLinuxSLL2, sll2},
		{"NULL", layers.LinkTypeNull, null},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := wscap(t, "read", "--format", "jsonl", rewrite(t, path, tc.lt, tc.f))
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if d, bad := digestOf(t, out); d.String() != m.Digest || len(bad) > 0 {
				t.Errorf("digest %s (%d), want %s (%d); %v", d, d.Count, m.Digest, m.DigestCount, bad)
			}
		})
	}
}

// TestInputs covers gzip, standard input, several files, and broken files.
func TestInputs(t *testing.T) {
	path, m := generate(t, "demo", gen.Options{Seed: 5, Format: gen.FormatPcapNG}, gen.ScenarioParams{})
	raw, _ := os.ReadFile(path)
	want, _, _ := wscap(t, "read", "--format", "jsonl", path)

	t.Run("gzip", func(t *testing.T) {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(raw)
		zw.Close()
		gz := filepath.Join(t.TempDir(), "capture.pcapng.gz")
		os.WriteFile(gz, z.Bytes(), 0o644)
		if got, _, _ := wscap(t, "read", "--format", "jsonl", gz); got != want {
			t.Errorf("gzip output differs:\n%s", firstDiff(got, want))
		}
	})
	t.Run("stdin", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := run([]string{"read", "--format", "jsonl", "-"}, bytes.NewReader(raw), &out, &errb)
		if code != exitOK || out.String() != want {
			t.Errorf("exit %d %s; output differs:\n%s", code, errb.String(), firstDiff(out.String(), want))
		}
	})
	t.Run("two files", func(t *testing.T) {
		out, _, code := wscap(t, "read", "--format", "jsonl", path, path)
		recs := records(t, out)
		maxConn := 0.0
		files := map[float64]bool{}
		for _, r := range recs {
			if c, ok := r["conn"].(float64); ok && c > maxConn {
				maxConn = c
			}
			if f, ok := r["file"].(float64); ok {
				files[f] = true
			}
		}
		if code != exitOK || int(maxConn) != 2*m.Connections || len(files) != 2 {
			t.Errorf("exit %d, connections numbered up to %v (want %d), files %v", code, maxConn, 2*m.Connections, files)
		}
	})
	t.Run("not a capture", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "notes.txt")
		os.WriteFile(p, []byte("hello, this is text"), 0o644)
		_, stderr, code := wscap(t, "read", p)
		if code != exitError || !strings.Contains(stderr, p) || !strings.Contains(stderr, "not a pcap or pcapng capture") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("cut off", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "cut.pcapng")
		os.WriteFile(p, raw[:len(raw)*2/3], 0o644)
		out, stderr, code := wscap(t, "read", "--format", "jsonl", p)
		n := strings.Count(out, `"kind":"message"`)
		if code != exitError || !strings.Contains(stderr, "cut off") || !strings.Contains(stderr, p) || n == 0 {
			t.Errorf("exit %d, stderr %q, %d messages before the cut", code, stderr, n)
		}
	})
	t.Run("unknown link type", func(t *testing.T) {
		var b bytes.Buffer
		w := pcapgo.NewWriter(&b)
		w.WriteFileHeader(65535, layers.LinkType(147))
		w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: 4, Length: 4}, []byte{1, 2, 3, 4})
		p := filepath.Join(t.TempDir(), "user0.pcap")
		os.WriteFile(p, b.Bytes(), 0o644)
		out, stderr, code := wscap(t, "read", "--format", "jsonl", p)
		if code != exitError || !strings.Contains(stderr, "unsupported link type") || !strings.Contains(out, `"undecodable":1`) {
			t.Errorf("exit %d, stderr %q, out %q", code, stderr, out)
		}
	})
	t.Run("strict", func(t *testing.T) {
		_, _, code := wscap(t, "read", "--strict", "../../testdata/public/zeek/wrong-accept-header.pcap")
		_, _, clean := wscap(t, "read", "--strict", "../../testdata/real/gorilla-basic.pcap")
		if code != exitFindings || clean != exitOK {
			t.Errorf("--strict: exit %d on a wrong Accept (want 1), %d on clean traffic (want 0)", code, clean)
		}
	})
	t.Run("usage", func(t *testing.T) {
		_, stderr, code := wscap(t, "read", "--no-such-flag", path)
		_, _, help := wscap(t, "read", "--help")
		if code != exitError || !strings.HasPrefix(stderr, "wscap: ") || help != exitOK {
			t.Errorf("unknown flag: exit %d %q; --help exit %d", code, stderr, help)
		}
	})
}

// TestStdinStreams checks that `wscap read -` prints a message as soon as
// its packet arrives, before the input ends (tcpdump -w - | wscap read -),
// as JSON Lines and as a table.
func TestStdinStreams(t *testing.T) {
	for _, tc := range []struct{ format, message string }{{"jsonl", `"kind":"message"`}, {"table", "server→client"}} {
		t.Run(tc.format, func(t *testing.T) { stdinStreams(t, tc.format, tc.message) })
	}
}

func stdinStreams(t *testing.T, format, message string) {
	path, _ := generate(t, "demo", gen.Options{Seed: 5}, gen.ScenarioParams{})
	raw, _ := os.ReadFile(path)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"read", "--format", format, "-"}, inR, outW, io.Discard)
		outW.Close()
	}()
	go inW.Write(raw[:len(raw)/2]) // half the capture, then nothing
	lines := make(chan string)
	go func() {
		buf := make([]byte, 1<<20)
		var acc []byte
		for {
			n, err := outR.Read(buf)
			acc = append(acc, buf[:n]...)
			for {
				i := bytes.IndexByte(acc, '\n')
				if i < 0 {
					break
				}
				lines <- string(acc[:i])
				acc = acc[i+1:]
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	deadline := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case l := <-lines:
			got = strings.Contains(l, message)
		case <-deadline:
			t.Fatal("no message printed while the input was still open")
		}
	}
	go func() {
		inW.Write(raw[len(raw)/2:])
		inW.Close()
	}()
	for range lines {
	}
	if code := <-done; code != exitOK {
		t.Errorf("exit %d", code)
	}
}

// TestMaxConns evicts the quietest connections when more than --max-conns
// are open: each eviction of a WebSocket connection is a cap-conns finding
// on the connection ended, the later packets of an evicted connection are
// counted, never taken up again as a connection found mid-stream (no
// connection is reported twice, no false finding), and the packet
// accounting still adds up.
func TestMaxConns(t *testing.T) {
	path, m := generate(t, "many", gen.Options{Seed: 9}, gen.ScenarioParams{Conns: 400})
	out, stderr, code := wscap(t, "read", "--format", "jsonl", "--workers", "1", "--max-conns", "20", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	evicted, ends := 0, 0
	clients := map[string]int{}
	for _, r := range records(t, out) {
		switch {
		case r["kind"] == "connection":
			clients[r["client"].(string)]++
			if r["end"] == "evicted" {
				ends++
			}
		case r["kind"] == "finding" && r["severity"] == "error":
			t.Errorf("error finding: %v", r)
		case r["code"] == "cap-conns":
			evicted++
		case r["kind"] == "totals":
			if r["evicted_connections"] == nil || r["packets_after_eviction"] == nil {
				t.Errorf("totals without the evictions: %v", r)
			}
			p := r["packets"].(map[string]any)
			sum := p["websocket"].(float64) + p["other_tcp"].(float64) + p["not_tcp"].(float64) + p["undecodable"].(float64) + p["ip_fragments"].(float64)
			if sum != p["read"].(float64) {
				t.Errorf("packets do not add up: %v", p)
			}
		}
	}
	if evicted != ends {
		t.Errorf("%d cap-conns findings, %d connections ended as evicted (manifest: %d connections)", evicted, ends, m.Connections)
	}
	for c, n := range clients {
		if n > 1 {
			t.Errorf("%s reported %d times", c, n)
		}
	}
	// Without the cap, nothing is evicted.
	out, _, _ = wscap(t, "read", "--format", "jsonl", path)
	if strings.Contains(out, "cap-conns") {
		t.Error("evictions without a cap")
	}
}

// TestGeneratorH2: the generator's WebSocket over HTTP/2 (h2c, and h2 in
// TLS) decodes to exactly the messages of its manifest, one h2 stream per
// connection, without a finding.
func TestGeneratorH2(t *testing.T) {
	for _, sc := range []struct {
		name string
		p    gen.ScenarioParams
	}{{"medium", gen.ScenarioParams{Conns: 12, Messages: 6, H2: true}}, {"many", gen.ScenarioParams{Conns: 200, H2: true}}, {"medium", gen.ScenarioParams{Conns: 8, Messages: 6, H2: true, TLS: true}}} {
		t.Run(fmt.Sprintf("%s tls=%v", sc.name, sc.p.TLS), func(t *testing.T) {
			var keys bytes.Buffer
			path, m := generate(t, sc.name, gen.Options{Seed: 3, KeyLog: &keys}, sc.p)
			args := []string{"read", "--format", "jsonl", path}
			if sc.p.TLS {
				kl := filepath.Join(t.TempDir(), "keys.log")
				os.WriteFile(kl, keys.Bytes(), 0o600)
				args = append(args, "--keylog", kl)
			}
			out, stderr, code := wscap(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			d, bad := digestOf(t, out)
			if d.String() != m.Digest || d.Count != m.DigestCount || m.DigestCount == 0 {
				t.Errorf("digest %s over %d messages, manifest %s over %d", d, d.Count, m.Digest, m.DigestCount)
			}
			for _, b := range bad {
				t.Error(b)
			}
			recs := records(t, out)
			for _, r := range recs {
				if r["kind"] == "finding" {
					t.Errorf("finding %v", r)
				}
			}
			if last := recs[len(recs)-1]; last["h2_websockets"] != float64(m.Connections) {
				t.Errorf("totals %v", last)
			}
		})
	}
}
