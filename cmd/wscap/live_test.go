package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
)

// The live tests run real programs in other processes: wscap itself, as
// this test binary re-executed with liveHelperEnv naming the role
// (TestLiveHelperProcess), and the wsapp echo server and client (the
// wsapp program, wsapp_test.go), inside network namespaces joined by a
// veth pair where asked (ip netns exec).

const liveHelperEnv = "WSCAP_LIVE_HELPER"

// TestLiveHelperProcess is not a test: it is the entry point of the
// re-executed test binary. The arguments after "--" are the role's.
func TestLiveHelperProcess(t *testing.T) {
	role := os.Getenv(liveHelperEnv)
	if role == "" {
		return
	}
	var args []string
	for i, a := range os.Args {
		if a == "--" {
			args = os.Args[i+1:]
			break
		}
	}
	switch role {
	case "wscap":
		os.Exit(run(args, os.Stdin, os.Stdout, os.Stderr))
	}
	fmt.Fprintf(os.Stderr, "unknown helper role %q\n", role)
	os.Exit(2)
}

// liveHelper returns the command running role with args, prefixed by
// prefix (e.g. ip netns exec NS), from the binary exe.
func liveHelper(exe string, prefix []string, role string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, prefix...), exe, "-test.run=^TestLiveHelperProcess$", "--"), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), liveHelperEnv+"="+role)
	return cmd
}

func liveExe(t *testing.T) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// requireRoot skips the test where live capture cannot be tested: not
// root, or the tools missing.
func requireRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live capture tests need root (CI runs as root)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("live capture test needs %s: %v", tool, err)
		}
	}
}

// process is a started helper whose output is collected as it comes.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

func startProcess(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{cmd: cmd, done: make(chan struct{})}
	outR, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	copyTo := func(dst *bytes.Buffer, r io.Reader) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			p.mu.Lock()
			dst.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go copyTo(&p.stdout, outR)
	go copyTo(&p.stderr, errR)
	go func() {
		wg.Wait()
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// stop sends sig, waits up to timeout for a clean exit (the test fails
// otherwise) and returns what the process wrote.
func (p *process) stop(t *testing.T, sig os.Signal, timeout time.Duration) (stdout, stderr string) {
	t.Helper()
	p.cmd.Process.Signal(sig)
	code := p.wait(t, timeout)
	stdout, stderr = p.output()
	if code != 0 {
		t.Fatalf("%s exit %d\nstderr:\n%s", p.cmd.Args[0], code, stderr)
	}
	return stdout, stderr
}

func (p *process) output() (stdout, stderr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String(), p.stderr.String()
}

// waitFor waits until cond holds for the process's output.
func (p *process) waitFor(t *testing.T, what string, timeout time.Duration, cond func(stdout, stderr string) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, errs := p.output()
		if cond(out, errs) {
			return
		}
		select {
		case <-p.done:
			out, errs = p.output()
			if cond(out, errs) {
				return
			}
			t.Fatalf("%s exited (%v) before %s\nstdout:\n%s\nstderr:\n%s", p.cmd.Args[0], p.err, what, tail(out), errs)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v\nstdout:\n%s\nstderr:\n%s", what, timeout, tail(out), errs)
		}
	}
}

// wait waits for the process to exit and returns its exit status.
func (p *process) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		out, errs := p.output()
		t.Fatalf("%v did not exit within %v\nstdout:\n%s\nstderr:\n%s", p.cmd.Args, timeout, tail(out), errs)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("%v: %v", p.cmd.Args, p.err)
	}
	return 0
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}

// vethPair is two network namespaces joined by a veth link: the server
// (10.213.0.1, fd00:213::1) and the client (10.213.0.2, fd00:213::2).
type vethPair struct {
	server, client     string // namespace names
	serverIf, clientIf string // interface names
}

var vethCounter atomic.Int32

func newVethPair(t *testing.T) vethPair {
	t.Helper()
	requireRoot(t, "ip")
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, vethCounter.Add(1))
	p := vethPair{
		server: "wscap-" + id + "-srv", client: "wscap-" + id + "-cli",
		serverIf: "wss" + id, clientIf: "wsc" + id,
	}
	ip := func(args ...string) error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := ip("netns", "add", p.server); err != nil {
		t.Skipf("cannot create network namespaces here: %v", err)
	}
	t.Cleanup(func() { ip("netns", "del", p.server) })
	if err := ip("netns", "add", p.client); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ip("netns", "del", p.client) })
	for _, args := range [][]string{
		{"link", "add", p.serverIf, "netns", p.server, "type", "veth", "peer", "name", p.clientIf, "netns", p.client},
		{"-n", p.server, "addr", "add", "10.213.0.1/24", "dev", p.serverIf},
		{"-n", p.client, "addr", "add", "10.213.0.2/24", "dev", p.clientIf},
		{"-n", p.server, "addr", "add", "fd00:213::1/64", "dev", p.serverIf, "nodad"},
		{"-n", p.client, "addr", "add", "fd00:213::2/64", "dev", p.clientIf, "nodad"},
		{"-n", p.server, "link", "set", p.serverIf, "up"},
		{"-n", p.client, "link", "set", p.clientIf, "up"},
		{"-n", p.server, "link", "set", "lo", "up"},
		{"-n", p.client, "link", "set", "lo", "up"},
	} {
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func netnsExec(ns string) []string { return []string{"ip", "netns", "exec", ns} }

// liveSession is one capture of a WebSocket session between the wsapp
// server and client.
type liveSession struct {
	serverPrefix, clientPrefix, wscapPrefix []string
	serverAddr                              string // host:port the server listens on
	compress                                bool
	messages                                int
	wscapArgs                               []string
}

// run starts the server, then wscap, then the client; once wscap printed
// the connection's summary (streamed output), it stops wscap with SIGTERM
// and returns wscap's records and standard error.
func (s liveSession) run(t *testing.T) ([]map[string]any, string) {
	t.Helper()
	exe := liveExe(t)
	srvArgs := []string{"server", s.serverAddr}
	cliArgs := []string{"client", "-n", strconv.Itoa(s.messages), "-timeout", "20s", "ws://" + s.serverAddr + "/"}
	if s.compress {
		srvArgs = append(srvArgs[:1], "-compress", s.serverAddr)
		cliArgs = append(cliArgs[:1], append([]string{"-compress"}, cliArgs[1:]...)...)
	}
	srv := startProcess(t, wsappCmd(t, s.serverPrefix, srvArgs...))
	srv.waitFor(t, "server listening", 10*time.Second, func(out, _ string) bool { return strings.Contains(out, "listening") })

	ws := startProcess(t, liveHelper(exe, s.wscapPrefix, "wscap", s.wscapArgs...))
	ws.waitFor(t, "wscap listening", 10*time.Second, func(_, errs string) bool { return strings.Contains(errs, "listening on") })

	cli := startProcess(t, wsappCmd(t, s.clientPrefix, cliArgs...))
	if code := cli.wait(t, 30*time.Second); code != 0 {
		out, errs := cli.output()
		t.Fatalf("client exit %d: %s %s", code, out, errs)
	}
	ws.waitFor(t, "connection summary", 10*time.Second, func(out, _ string) bool {
		return strings.Contains(out, `"kind":"connection"`)
	})
	out, errs := ws.stop(t, syscall.SIGTERM, 10*time.Second)
	return liveRecords(t, out), errs
}

func liveRecords(t *testing.T, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("not JSON: %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// checkEchoSession checks that the records hold one WebSocket connection
// on which each side sent exactly the script of n messages, compressed or
// not, then the closing handshake.
func checkEchoSession(t *testing.T, recs []map[string]any, n int, compress bool) {
	t.Helper()
	script := wsappScript(t, n)
	got := map[string][]map[string]any{}
	closes := map[string]int{}
	var handshakes, conns int
	for _, r := range recs {
		switch r["kind"] {
		case "handshake":
			handshakes++
			ext := fmt.Sprint(r["extensions"]) // a list of strings
			if compress != strings.Contains(ext, "permessage-deflate") {
				t.Errorf("handshake extensions %q, compression %v", ext, compress)
			}
		case "connection":
			conns++
		case "finding":
			if r["severity"] != "info" {
				t.Errorf("finding: %v", r)
			}
		case "message":
			from, _ := r["from"].(string)
			switch r["opcode"] {
			case "text", "binary":
				got[from] = append(got[from], r)
			case "close":
				closes[from]++
			}
		}
	}
	if handshakes != 1 || conns != 1 {
		t.Errorf("%d handshakes and %d connection summaries, want 1 and 1", handshakes, conns)
	}
	for _, from := range []string{"client", "server"} {
		msgs := got[from]
		if len(msgs) != len(script) {
			t.Errorf("%s sent %d messages, wscap shows %d", from, len(script), len(msgs))
		}
		for i := range min(len(msgs), len(script)) {
			r, m := msgs[i], script[i]
			var data []byte
			if s, ok := r["text"].(string); ok {
				data = []byte(s)
			} else if s, ok := r["data"].(string); ok {
				data, _ = base64.StdEncoding.DecodeString(s)
			}
			opcode := "text"
			if m.Binary {
				opcode = "binary"
			}
			if r["opcode"] != opcode || !bytes.Equal(data, m.Data) {
				t.Errorf("%s message %d: %v, %d bytes; sent %s, %d bytes", from, i, r["opcode"], len(data), opcode, len(m.Data))
			}
			// coder/websocket compresses messages of at least 1 byte (its
			// threshold), gorilla/websocket every message.
			wantZ := compress && (from == "server" || len(m.Data) > 0)
			if z, _ := r["compressed"].(bool); z != wantZ {
				t.Errorf("%s message %d (%d bytes): compressed %v, want %v", from, i, len(m.Data), z, wantZ)
			}
		}
		if closes[from] != 1 {
			t.Errorf("%s sent %d close frames, want 1", from, closes[from])
		}
	}
}

// counters returns the counters wscap live printed at the end.
func counters(t *testing.T, stderr string) map[string]uint64 {
	t.Helper()
	c := map[string]uint64{}
	for _, line := range strings.Split(stderr, "\n") {
		var n uint64
		var what string
		if k, err := fmt.Sscanf(line, "wscap: %d packets %s", &n, &what); err == nil && k == 2 {
			c[strings.TrimPrefix(line, fmt.Sprintf("wscap: %d packets ", n))] = n
		}
	}
	for _, k := range []string{"captured", "received by filter", "dropped by kernel", "dropped by wscap"} {
		if _, ok := c[k]; !ok {
			t.Errorf("no counter %q in:\n%s", k, stderr)
		}
	}
	return c
}

// TestLiveVeth captures real WebSocket sessions between two network
// namespaces on the client's veth interface (and on "any" there), with
// and without compression, over IPv4 and IPv6.
func TestLiveVeth(t *testing.T) {
	p := newVethPair(t)
	cases := []struct {
		name     string
		compress bool
		addr     string
		iface    string
		filter   string
		fanout   string
	}{
		{"plain", false, "10.213.0.1:8080", p.clientIf, "", "1"},
		{"deflate", true, "10.213.0.1:8081", p.clientIf, "tcp port 8081", "1"},
		{"ipv6-any", true, "[fd00:213::1]:8082", "any", "ip6 and tcp port 8082", "1"},
		{"ipv6-any-fanout", true, "[fd00:213::1]:8083", "any", "ip6 and tcp port 8083", "2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const n = 30
			args := []string{"live", "-i", tc.iface, "--format", "jsonl", "--fanout", tc.fanout}
			if tc.filter != "" {
				args = append(args, "-f", tc.filter)
			}
			recs, stderr := liveSession{
				serverPrefix: netnsExec(p.server), clientPrefix: netnsExec(p.client), wscapPrefix: netnsExec(p.client),
				serverAddr: tc.addr, compress: tc.compress, messages: n, wscapArgs: args,
			}.run(t)
			checkEchoSession(t, recs, n, tc.compress)
			c := counters(t, stderr)
			if c["dropped by kernel"] != 0 || c["captured"] == 0 {
				t.Errorf("counters %v", c)
			}
			if !strings.Contains(stderr, "running as nobody") {
				t.Errorf("wscap did not drop root for nobody:\n%s", stderr)
			}
		})
	}

	for _, fanout := range []string{"1", "3"} {
		t.Run("interface-down-fanout-"+fanout, func(t *testing.T) {
			ws := startProcess(t, liveHelper(liveExe(t), netnsExec(p.server), "wscap", "live", "-i", p.serverIf, "--format", "jsonl", "--fanout", fanout))
			ws.waitFor(t, "wscap listening", 10*time.Second, func(_, errs string) bool { return strings.Contains(errs, "listening on") })
			if out, err := exec.Command("ip", "-n", p.server, "link", "set", p.serverIf, "down").CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			defer exec.Command("ip", "-n", p.server, "link", "set", p.serverIf, "up").Run()
			code := ws.wait(t, 10*time.Second)
			_, errs := ws.output()
			if code != exitError || !strings.Contains(errs, "went down") || strings.Contains(errs, "goroutine") {
				t.Errorf("exit %d, stderr:\n%s", code, errs)
			}
		})
	}
}

// TestLiveFanout captures 20 WebSocket connections at once on a veth
// interface with --fanout 4, then the same traffic with one socket: each
// time every message of every connection is decoded once and in order,
// with no finding but info, and the kernel's counters (summed over the
// sockets) cover the packets the pipeline read.
//
// One ring's order is not quite its timestamps' (the kernel stamps a
// packet after reserving its slot, and packets come in on both CPUs):
// with one socket or four, a few packets are stamped microseconds before
// the one before them, in the totals' timestamps_backwards and as info
// findings capture-time-backwards. The merge of the sockets adds none
// (TestLiveFanout in pcap checks that across sockets).
func TestLiveFanout(t *testing.T) {
	p := newVethPair(t)
	const conns, n = 20, 30
	exe := liveExe(t)
	addr := "10.213.0.1:8090"
	srv := startProcess(t, wsappCmd(t, netnsExec(p.server), "server", addr))
	srv.waitFor(t, "server listening", 10*time.Second, func(out, _ string) bool { return strings.Contains(out, "listening") })

	script := wsappScript(t, n)
	for _, fanout := range []int{4, 1} {
		t.Run("fanout-"+strconv.Itoa(fanout), func(t *testing.T) {
			ws := startProcess(t, liveHelper(exe, netnsExec(p.client), "wscap", "live", "-i", p.clientIf, "-f", "tcp port 8090",
				"--format", "jsonl", "--fanout", strconv.Itoa(fanout)))
			ws.waitFor(t, "wscap listening", 10*time.Second, func(_, errs string) bool { return strings.Contains(errs, "listening on") })
			start := time.Now()
			cli := startProcess(t, wsappCmd(t, netnsExec(p.client), "client", "-clients", strconv.Itoa(conns), "-n", strconv.Itoa(n), "-timeout", "30s", "ws://"+addr+"/"))
			if code := cli.wait(t, 60*time.Second); code != 0 {
				_, errs := cli.output()
				t.Fatalf("clients: exit %d: %s", code, errs)
			}
			elapsed := time.Since(start)
			// Every connection's summary, or a stop after 20 s all the same
			// (then the counters say whether the kernel dropped).
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if out, _ := ws.output(); strings.Count(out, `"kind":"connection"`) == conns {
					break
				}
			}
			out, errs := ws.stop(t, syscall.SIGTERM, 10*time.Second)
			recs := liveRecords(t, out)

			type key struct {
				conn int
				from string
			}
			msgs := map[key][][]byte{}
			var totals map[string]any
			var back int
			for _, r := range recs {
				conn, _ := r["conn"].(float64)
				switch r["kind"] {
				case "finding":
					if r["severity"] != "info" {
						t.Errorf("finding: %v", r)
					} else if r["code"] == "capture-time-backwards" {
						back++
					}
				case "message":
					if r["opcode"] != "text" && r["opcode"] != "binary" {
						continue
					}
					var data []byte
					if s, ok := r["text"].(string); ok {
						data = []byte(s)
					} else if s, ok := r["data"].(string); ok {
						data, _ = base64.StdEncoding.DecodeString(s)
					}
					k := key{int(conn), r["from"].(string)}
					msgs[k] = append(msgs[k], data)
				case "totals":
					totals = r
				}
			}
			for c := 1; c <= conns; c++ {
				for _, from := range []string{"client", "server"} {
					got := msgs[key{c, from}]
					if len(got) != len(script) {
						t.Errorf("connection %d: the %s sent %d messages, wscap shows %d", c, from, len(script), len(got))
						continue
					}
					for i, m := range script {
						if !bytes.Equal(got[i], m.Data) {
							t.Errorf("connection %d: %s message %d: %d bytes, sent %d", c, from, i, len(got[i]), len(m.Data))
						}
					}
				}
			}
			if len(msgs) != 2*conns {
				t.Errorf("messages on %d connection sides, want %d", len(msgs), 2*conns)
			}
			if totals == nil {
				t.Fatalf("no totals record")
			}
			packets, _ := totals["packets"].(map[string]any)
			read, _ := packets["read"].(float64)
			c := counters(t, errs)
			if c["captured"] != uint64(read) || c["received by filter"] < c["captured"] || c["dropped by kernel"] != 0 {
				t.Errorf("totals read %v packets; counters %v", read, c)
			}
			if over := fmt.Sprintf("wscap: kernel: %d received, %d dropped over %d fanout sockets\n", c["received by filter"], c["dropped by kernel"], fanout); fanout > 1 && !strings.Contains(errs, over) {
				t.Errorf("the counters do not say they are summed:\n%s", errs)
			}
			t.Logf("--fanout %d: %d packets in %v (%.0f packets/s); timestamps_backwards %v, on %d connections", fanout, c["captured"], elapsed.Round(time.Millisecond),
				float64(c["captured"])/elapsed.Seconds(), totals["timestamps_backwards"], back)
		})
	}
}

// TestLiveLoopback captures a session on lo (no namespaces) with a kernel
// filter on the server's port, saves it with --write and checks that the
// saved file reads back to the same records, and holds every packet once
// (a packet socket sees loopback packets twice unless wscap drops the
// outgoing copy).
func TestLiveLoopback(t *testing.T) {
	requireRoot(t)
	addr, port := loopbackEcho(t, true)

	file := filepath.Join(t.TempDir(), "lo.pcapng")
	exe := liveExe(t)
	ws := startProcess(t, liveHelper(exe, nil, "wscap", "live", "-i", "lo", "-f", fmt.Sprintf("tcp port %d", port),
		"--format", "jsonl", "--write", file, "--user", ""))
	ws.waitFor(t, "wscap listening", 10*time.Second, func(_, errs string) bool { return strings.Contains(errs, "listening on") })

	const n = 25
	runWsappClient(t, "client", "-compress", "-n", strconv.Itoa(n), "ws://"+addr+"/")
	ws.waitFor(t, "connection summary", 10*time.Second, func(out, _ string) bool { return strings.Contains(out, `"kind":"connection"`) })
	out, errs := ws.stop(t, os.Interrupt, 10*time.Second)
	live := liveRecords(t, out)
	checkEchoSession(t, live, n, true)
	c := counters(t, errs)

	// The file holds what was analysed, each packet once.
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var packets uint64
	for {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		packets++
		if seen[string(data)] {
			t.Errorf("packet %d is in the file twice: %x", packets, data[:min(len(data), 80)])
		}
		seen[string(data)] = true
	}
	if packets != c["captured"] {
		t.Errorf("file has %d packets, wscap captured %d", packets, c["captured"])
	}

	var rout, rerr bytes.Buffer
	if code := run([]string{"read", "--format", "jsonl", file}, strings.NewReader(""), &rout, &rerr); code != 0 {
		t.Fatalf("read %s: exit %d: %s", file, code, rerr.String())
	}
	reread := liveRecords(t, rout.String())
	if len(reread) != len(live) {
		t.Fatalf("re-reading the file gives %d records, live %d", len(reread), len(live))
	}
	for i := range live {
		a, _ := json.Marshal(live[i])
		b, _ := json.Marshal(reread[i])
		if !bytes.Equal(a, b) {
			t.Errorf("record %d:\nlive:   %s\nreread: %s", i, a, b)
		}
	}
}

// TestLiveStopsByItself checks --count and --duration.
func TestLiveStopsByItself(t *testing.T) {
	requireRoot(t)
	addr, port := loopbackEcho(t, false)
	exe := liveExe(t)

	ws := startProcess(t, liveHelper(exe, nil, "wscap", "live", "-i", "lo", "-f", fmt.Sprintf("port %d", port), "--count", "5", "--format", "jsonl"))
	ws.waitFor(t, "wscap listening", 10*time.Second, func(_, errs string) bool { return strings.Contains(errs, "listening on") })
	runWsappClient(t, "client", "-n", "5", "ws://"+addr+"/")
	if code := ws.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("--count 5: exit %d", code)
	}
	out, errs := ws.output()
	if c := counters(t, errs); c["captured"] != 5 {
		t.Errorf("--count 5 captured %d packets:\n%s", c["captured"], errs)
	}
	if !strings.Contains(out, `"kind":"totals"`) {
		t.Errorf("no totals record:\n%s", out)
	}

	start := time.Now()
	ws = startProcess(t, liveHelper(exe, nil, "wscap", "live", "-i", "lo", "-f", fmt.Sprintf("port %d", port), "--duration", "300ms"))
	if code := ws.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("--duration: exit %d", code)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("--duration 300ms stopped after %v", d)
	}
}

// TestLiveWithoutPrivilege runs wscap live as nobody without capabilities:
// one line saying what is missing, exit status 2.
func TestLiveWithoutPrivilege(t *testing.T) {
	requireRoot(t, "setpriv")
	// nobody must be able to execute the binary.
	dir, err := os.MkdirTemp("", "wscap-live-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	exe := filepath.Join(dir, "wscap.test")
	b, err := os.ReadFile(liveExe(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := liveHelper(exe, []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"}, "wscap", "live", "-i", "lo")
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitError {
		t.Fatalf("exit: %v, want status %d\nstderr:\n%s", err, exitError, stderr.String())
	}
	msg := stderr.String()
	for _, want := range []string{"needs root or the CAP_NET_RAW capability", "setcap cap_net_raw,cap_net_admin+eip"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr lacks %q:\n%s", want, msg)
		}
	}
	if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "wscap: ") {
		t.Errorf("want one line starting with \"wscap: \", got:\n%s", msg)
	}
}

// TestLiveUsageErrors needs no privilege: these fail before the socket.
func TestLiveUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"live"}, "needs an interface"},
		{[]string{"live", "-i", "wscap-no-such0"}, `no interface named "wscap-no-such0"`},
		{[]string{"live", "-i", "lo", "-f", "tcp port"}, "capture filter: "}, // an error for libpcap too
		{[]string{"live", "-i", "lo", "tcp"}, "give a capture filter with -f"},
		{[]string{"live", "-i", "lo", "--format", "xml"}, "unknown --format"},
		{[]string{"live", "-i", "lo", "--fanout", "0"}, "--fanout 0: want 1 to 64 sockets"},
		{[]string{"live", "-i", "lo", "--fanout", "65"}, "--fanout 65: want 1 to 64 sockets"},
		{[]string{"live", "-i", "lo", "--fanout", "-2"}, "--fanout -2: want 1 to 64 sockets"},
		{[]string{"live", "-i", "lo", "--fanout", "four"}, "--fanout"},
	} {
		var out, errb bytes.Buffer
		// Should a case open a capture after all, it must neither drop the
		// test process's privileges nor run for long.
		args := append(tc.args, "--user", "", "--duration", "1ms")
		code := run(args, strings.NewReader(""), &out, &errb)
		if code != exitError || !strings.Contains(errb.String(), tc.want) || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errb.String(), exitError, tc.want)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"live", "-D"}, strings.NewReader(""), &out, &errb); code != 0 || !strings.Contains(out.String(), "any") || !strings.Contains(out.String(), "lo") {
		t.Errorf("live -D: exit %d\n%s%s", code, out.String(), errb.String())
	}
}
