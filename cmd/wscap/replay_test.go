package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wscap/wscap/internal/gen"
)

// TestLiveReplay replays captures with tcpreplay out of one end of a veth
// pair into `wscap live` on the other, and checks that live capture finds
// what `wscap read` finds in the file: every handshake, message (payload
// included), frame finding and connection summary, but for what depends
// on when the packets came (times, packet numbers, round trips). Real
// captures of several stacks, a bundled h2 wss one with its key log, and a
// generated capture of many connections at once.
func TestLiveReplay(t *testing.T) {
	requireRoot(t, "ip", "tcpreplay")
	p := newVethPair(t)
	for _, end := range [][2]string{{p.server, p.serverIf}, {p.client, p.clientIf}} {
		ns, ifc := end[0], end[1]
		// The link carries the capture only (no router solicitations),
		// and frames of any size a capture holds.
		for _, cmd := range [][]string{
			{"ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf." + ifc + ".disable_ipv6=1"},
			{"ip", "-n", ns, "link", "set", ifc, "mtu", "65535"},
		} {
			if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%v: %v: %s", cmd, err, out)
			}
		}
	}
	const td = "../../testdata/"
	type replayCase struct {
		name, file string
		args       []string
		pps        int // 0: top speed
	}
	cases := []replayCase{
		{name: "gorilla", file: td + "real/gorilla-basic.pcap"},
		{name: "node-fragmented", file: td + "real/node-fragmented.pcap"},
		{name: "coder-takeover", file: td + "real/coder-takeover.pcap"},
		{name: "window-bits", file: td + "real/window-bits.pcap"},
		{name: "zeek-compressed", file: td + "public/zeek/websocket_compressed.pcap"},
		{name: "suricata-control-frag", file: td + "public/suricata-verify/websocket-control-frag/input.pcap"},
		{name: "mqtt-v5", file: td + "app/mqtt-v5.pcap"},
		{name: "h2-wss", file: td + "h2/chromium-h2-wss.pcap", args: []string{"--keylog", td + "h2/chromium-h2-wss.keys"}},
	}
	// Many connections at once, compressed and fragmented messages, IPv6:
	// paced, so that a loaded machine does not drop (kernel drops fail
	// the test, they are not tolerated).
	c, err := gen.NewScenario("medium", gen.Options{Seed: 7}, gen.ScenarioParams{Conns: 300, Messages: 6})
	if err != nil {
		t.Fatal(err)
	}
	generated := filepath.Join(t.TempDir(), "medium-300.pcap")
	writeCapture(t, c, generated)
	cases = append(cases, replayCase{name: "generated", file: generated, pps: 20000})

	exe := liveExe(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			read, stderr, code := wscap(t, append(append([]string{"read", "--format", "jsonl"}, tc.args...), tc.file)...)
			if code != exitOK {
				t.Fatalf("read: exit %d: %s", code, stderr)
			}
			want := replayRecords(t, read)
			if len(want) == 0 {
				t.Fatal("read found nothing to compare")
			}
			ws := startProcess(t, liveHelper(exe, netnsExec(p.client), "wscap", append([]string{"live", "-i", p.clientIf, "--format", "jsonl"}, tc.args...)...))
			ws.waitFor(t, "wscap listening", 10*time.Second, func(_, errs string) bool { return strings.Contains(errs, "listening on") })
			speed := "--topspeed"
			if tc.pps > 0 {
				speed = "--pps=" + strconv.Itoa(tc.pps)
			}
			replay := exec.Command("ip", "netns", "exec", p.server, "tcpreplay", "-i", p.serverIf, speed, tc.file)
			if out, err := replay.CombinedOutput(); err != nil {
				ws.stop(t, syscall.SIGTERM, 10*time.Second)
				t.Fatalf("tcpreplay: %v\n%s", err, out)
			}
			// Packets reach the reader within the ring's block timeout.
			time.Sleep(300 * time.Millisecond)
			out, stderr := ws.stop(t, syscall.SIGTERM, 20*time.Second)
			got := replayRecords(t, out)
			cnt := counters(t, stderr)
			if cnt["dropped by kernel"] != 0 {
				t.Errorf("the kernel dropped %d packets\n%s", cnt["dropped by kernel"], stderr)
			}
			if d := diffCounts(got, want, func(s string) string { return s }); d != "" {
				t.Errorf("live capture of the replay differs from read of the file (%d records live, %d read):\n%s", total(got), total(want), d)
			}
			t.Logf("%d records agree; %s", total(got), strings.TrimSpace(strings.ReplaceAll(stderr, "\n", "; ")))
		})
	}
}

// replayRecords returns the records of JSON Lines output as a multiset,
// without the totals and what depends on when the packets came: times,
// packet numbers, durations and round trips. Connection numbers stay: the
// replay keeps the packets' order.
func replayRecords(t *testing.T, out string) map[string]int {
	t.Helper()
	recs := map[string]int{}
	for _, r := range records(t, out) {
		if r["kind"] == "totals" {
			continue
		}
		for _, k := range []string{"ts", "pkt", "file", "start", "duration", "rtt"} {
			delete(r, k)
		}
		b, err := json.Marshal(r) // map keys sorted
		if err != nil {
			t.Fatal(err)
		}
		recs[string(b)]++
	}
	return recs
}

func total(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}
