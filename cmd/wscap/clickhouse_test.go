package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wscap/wscap/internal/gen"
)

// The tests of --sink clickhouse run real ClickHouse servers: Debian's
// clickhouse-server, two instances on loopback as the two shards of the
// cluster "wscap", with docs/clickhouse.sql applied to both.

// chServer is one clickhouse-server process on loopback.
type chServer struct {
	dir            string
	http, tcp      int
	cmd            *exec.Cmd
	t              *testing.T
	started, ended chan struct{}
}

// clickhouseBinaries returns clickhouse-server and clickhouse-client, or
// skips the test.
func clickhouseBinaries(t *testing.T) (server, client string) {
	t.Helper()
	for _, p := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if s, err := exec.LookPath(p); err == nil {
			server = s
			break
		}
	}
	client, _ = exec.LookPath("clickhouse-client")
	if server == "" || client == "" {
		t.Skip("clickhouse-server and clickhouse-client are not installed (Debian: apt-get install clickhouse-server clickhouse-client; .ci/run does)")
	}
	return server, client
}

func freePort(t *testing.T) int {
	return freePorts(t, 1)[0]
}

// freePorts returns n distinct loopback ports that were free a moment
// ago: each is held until all are chosen. Another process may still take
// one before the server binds it (startClickHouse tries again then).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// startClickHouse starts n servers as the n shards of cluster "wscap", with
// the schema of docs/clickhouse.sql, and stops them at the end of the test.
func startClickHouse(t *testing.T, n int) []*chServer {
	t.Helper()
	bin, _ := clickhouseBinaries(t)
	for try := 1; ; try++ {
		servers, err := tryClickHouse(t, bin, n)
		if err == nil {
			return servers
		}
		if try == 3 || !strings.Contains(err.Error(), "Address already in use") {
			t.Fatal(err)
		}
		t.Logf("try %d: %v; again on other ports", try, err)
	}
}

// tryClickHouse is one try of startClickHouse: the servers it started are
// stopped when it fails.
func tryClickHouse(t *testing.T, bin string, n int) (servers []*chServer, err error) {
	t.Helper()
	var shards strings.Builder
	ports := freePorts(t, 2*n)
	for i := 0; i < n; i++ {
		s := &chServer{dir: t.TempDir(), http: ports[2*i], tcp: ports[2*i+1], t: t}
		servers = append(servers, s)
		fmt.Fprintf(&shards, "<shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>", s.tcp)
	}
	for _, s := range servers {
		users := `<yandex><profiles><default/></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>
<wscap><password>secret</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></wscap></users>
<quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas></yandex>`
		config := fmt.Sprintf(`<yandex>
<logger><level>warning</level><log>%[1]s/server.log</log><errorlog>%[1]s/error.log</errorlog><console>0</console></logger>
<http_port>%[2]d</http_port><tcp_port>%[3]d</tcp_port><listen_host>127.0.0.1</listen_host>
<path>%[1]s/data/</path><tmp_path>%[1]s/tmp/</tmp_path><user_files_path>%[1]s/files/</user_files_path><format_schema_path>%[1]s/schemas/</format_schema_path>
<users_config>%[1]s/users.xml</users_config><default_profile>default</default_profile><default_database>default</default_database>
<mark_cache_size>67108864</mark_cache_size><uncompressed_cache_size>67108864</uncompressed_cache_size>
<remote_servers><wscap>%[4]s</wscap></remote_servers>
</yandex>`, s.dir, s.http, s.tcp, shards.String())
		if err := os.WriteFile(filepath.Join(s.dir, "users.xml"), []byte(users), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.dir, "config.xml"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
		s.start(bin)
		t.Cleanup(s.stop)
	}
	for _, s := range servers {
		if err := s.up(); err != nil {
			for _, s := range servers {
				s.stop()
			}
			return nil, err
		}
	}
	schema, err := os.ReadFile("../../docs/clickhouse.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		for _, stmt := range sqlStatements(string(schema)) {
			s.exec(stmt)
		}
	}
	return servers, nil
}

// sqlStatements splits a SQL file into statements, without its comments.
func sqlStatements(sql string) []string {
	var lines []string
	for _, l := range strings.Split(sql, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	var out []string
	for _, s := range strings.Split(strings.Join(lines, "\n"), ";") {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

func (s *chServer) start(bin string) {
	s.cmd = exec.Command(bin, "--config-file="+filepath.Join(s.dir, "config.xml"))
	s.cmd.Dir = s.dir
	var out bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("clickhouse-server: %v", err)
	}
	s.ended = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.ended) }()
}

// kill stops the server at once, as a crash would.
func (s *chServer) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.ended
}

func (s *chServer) stop() {
	if s.cmd != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.ended:
		case <-time.After(10 * time.Second):
			s.kill()
		}
	}
}

func (s *chServer) url() string { return fmt.Sprintf("http://127.0.0.1:%d", s.http) }

func (s *chServer) waitUp() {
	s.t.Helper()
	if err := s.up(); err != nil {
		s.t.Fatal(err)
	}
}

// up waits until the server answers on its HTTP port.
func (s *chServer) up() error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(s.url() + "/ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-s.ended:
			log, _ := os.ReadFile(filepath.Join(s.dir, "error.log"))
			return fmt.Errorf("clickhouse-server exited: %s", log)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("clickhouse-server did not answer on its HTTP port within 60s")
}

// exec runs a statement over HTTP.
func (s *chServer) exec(stmt string) {
	s.t.Helper()
	resp, err := http.Post(s.url()+"/", "text/plain", strings.NewReader(stmt))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		s.t.Fatalf("%s: %s", stmt, b.String())
	}
}

// query runs a query with clickhouse-client, as a user would, and returns
// its TabSeparated output.
func (s *chServer) query(q string) string {
	s.t.Helper()
	_, client := clickhouseBinaries(s.t)
	out, err := exec.Command(client, "--host", "127.0.0.1", "--port", strconv.Itoa(s.tcp), "--query", q).CombinedOutput()
	if err != nil {
		s.t.Fatalf("clickhouse-client %q: %v\n%s", q, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (s *chServer) count(q string) int {
	s.t.Helper()
	n, err := strconv.Atoi(s.query(q))
	if err != nil {
		s.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// sinkURL is the URL of --sink for server s, with settings.
func sinkURL(s *chServer, params ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	return "clickhouse=" + s.url() + "/wscap?" + v.Encode()
}

// sinkCaptures are bundled captures with every record kind between them:
// real libraries over loopback, HTTP/2 in TLS with its key log, findings,
// application protocols.
var sinkCaptures = []struct{ file, keylog string }{
	{"../../testdata/real/gorilla-basic.pcap", ""},
	{"../../testdata/real/node-fragmented.pcap", ""},
	{"../../testdata/h2/chromium-h2-wss.pcap", "../../testdata/h2/chromium-h2-wss.keys"},
	{"../../testdata/app/mqtt-v311.pcap", ""},
	{"../../testdata/public/zeek/wrong-accept-header.pcap", ""},
	{"../../testdata/public/suricata-verify/websocket-control-frag/input.pcap", ""},
	{"../../testdata/public/arkime/websocket.pcap", ""},
}

// chRows runs a query whose rows are JSON objects and returns them.
func chRows(t *testing.T, s *chServer, q string) []map[string]any {
	t.Helper()
	return records(t, s.query(q+" FORMAT JSONEachRow"))
}

func TestClickHouseSink(t *testing.T) {
	servers := startClickHouse(t, 2)
	s := servers[0]
	for _, c := range sinkCaptures {
		name := filepath.Base(c.file)
		t.Run(name, func(t *testing.T) {
			args := []string{"read", "--format", "jsonl", c.file}
			if c.keylog != "" {
				args = append(args, "--keylog", c.keylog)
			}
			want, _, code := wscap(t, args...)
			if code != exitOK {
				t.Fatalf("read: %d", code)
			}
			// Twice: the second run of the same job replaces the first's rows.
			for range 2 {
				got, stderr, code := wscap(t, append(args, "--sink", sinkURL(s, "insert_distributed_sync", "1"), "--sink-payload", "--workers", "3")...)
				if code != exitOK || got != want {
					t.Fatalf("read --sink: status %d, output changed: %v\n%s", code, got != want, stderr)
				}
				if !strings.Contains(stderr, "clickhouse: ") || !strings.Contains(stderr, " rows in ") {
					t.Errorf("stderr does not say what was written: %q", stderr)
				}
			}
			run := runID([]string{c.file})
			recs := records(t, want)
			byKind := map[string][]map[string]any{}
			for _, r := range recs {
				byKind[r["kind"].(string)] = append(byKind[r["kind"].(string)], r)
			}
			for kind, table := range map[string]string{"handshake": "handshakes", "message": "messages", "finding": "findings", "connection": "connections", "totals": "totals"} {
				n := s.count(fmt.Sprintf("SELECT count() FROM wscap.wscap_%s FINAL WHERE run = '%s'", table, run))
				if n != len(byKind[kind]) {
					t.Errorf("%s: %d rows, want %d", table, n, len(byKind[kind]))
				}
			}
			// Every message's payload, in order.
			rows := chRows(t, s, fmt.Sprintf("SELECT conn, `from`, opcode, toString(length) AS length, text, data, close_code, app_protocol, toString(toUnixTimestamp(time)) AS t, toString(ns) AS ns FROM wscap.wscap_messages FINAL WHERE run = '%s' ORDER BY seq", run))
			for i, m := range byKind["message"] {
				if i >= len(rows) {
					break
				}
				r := rows[i]
				for _, k := range []string{"from", "opcode", "text", "data"} {
					if fmt.Sprint(r[k]) != fmt.Sprint(cmpAny(m[k], "")) {
						t.Errorf("message %d %s: %v, want %v", i, k, r[k], m[k])
					}
				}
				if fmt.Sprint(r["conn"]) != fmt.Sprint(m["conn"]) || r["length"] != fmt.Sprint(cmpAny(m["length"], 0.0)) {
					t.Errorf("message %d: conn %v length %v, want %v %v", i, r["conn"], r["length"], m["conn"], m["length"])
				}
				if ts, err := time.Parse(time.RFC3339Nano, m["ts"].(string)); err != nil || fmt.Sprintln(r["t"], r["ns"]) != fmt.Sprintln(ts.Unix(), ts.Nanosecond()) {
					t.Errorf("message %d: time %v ns %v, want %v", i, r["t"], r["ns"], m["ts"])
				}
				if a, ok := m["app"].(map[string]any); ok && r["app_protocol"] != a["protocol"] {
					t.Errorf("message %d: app_protocol %v, want %v", i, r["app_protocol"], a["protocol"])
				}
			}
			// Every finding.
			rows = chRows(t, s, fmt.Sprintf("SELECT conn, code, severity, rfc, `from`, detail FROM wscap.wscap_findings FINAL WHERE run = '%s' ORDER BY seq", run))
			for i, f := range byKind["finding"] {
				if i < len(rows) {
					for _, k := range []string{"conn", "code", "severity", "rfc", "from", "detail"} {
						if fmt.Sprint(rows[i][k]) != fmt.Sprint(cmpAny(f[k], "")) {
							t.Errorf("finding %d %s: %v, want %v", i, k, rows[i][k], f[k])
						}
					}
				}
			}
			// Every connection's totals, from the columns computed out of the record.
			rows = chRows(t, s, fmt.Sprintf("SELECT conn, toString(client_messages) AS cm, toString(server_bytes) AS sb, client_close_code, toString(rtt_count) AS rc, end, duration FROM wscap.wscap_connections FINAL WHERE run = '%s' ORDER BY seq", run))
			for i, c := range byKind["connection"] {
				if i >= len(rows) {
					break
				}
				cs, ss := c["client_sent"].(map[string]any), c["server_sent"].(map[string]any)
				rtt, _ := c["rtt"].(map[string]any)
				want := fmt.Sprintln(c["conn"], cs["messages"], ss["bytes"], cmpAny(cs["close_code"], 0.0), cmpAny(rtt["count"], 0.0), c["end"], c["duration"])
				r := rows[i]
				if got := fmt.Sprintln(r["conn"], r["cm"], r["sb"], r["client_close_code"], r["rc"], r["end"], r["duration"]); got != want {
					t.Errorf("connection %d: %s, want %s", i, got, want)
				}
			}
			tot := byKind["totals"][0]
			got := s.query(fmt.Sprintf("SELECT packets_read, websocket_connections FROM wscap.wscap_totals FINAL WHERE run = '%s'", run))
			if want := fmt.Sprintf("%v\t%v", tot["packets"].(map[string]any)["read"], tot["websocket_connections"]); got != want {
				t.Errorf("totals: %q, want %q", got, want)
			}
		})
	}
	// Every query of docs/scale.md runs on the Distributed tables and finds rows.
	doc, err := os.ReadFile("../../docs/scale.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```sql\n")[1:]
	if len(blocks) < 5 {
		t.Fatalf("docs/scale.md has %d queries", len(blocks))
	}
	for _, b := range blocks {
		q, _, _ := strings.Cut(b, "```")
		if out := s.query(q); out == "" {
			t.Errorf("docs/scale.md query found nothing:\n%s", q)
		}
	}
	// The rows are spread over both shards, and none is there twice once
	// merged (the second runs replaced the first).
	for i, srv := range servers {
		srv.exec("OPTIMIZE TABLE wscap.wscap_messages_local FINAL")
		if n := srv.count("SELECT count() FROM wscap.wscap_messages_local"); n == 0 {
			t.Errorf("shard %d holds no message", i)
		}
		if n := srv.count("SELECT count() FROM (SELECT run, seq FROM wscap.wscap_messages_local GROUP BY run, seq HAVING count() > 1)"); n != 0 {
			t.Errorf("shard %d: %d messages twice after OPTIMIZE FINAL", i, n)
		}
	}
}

func cmpAny(v, d any) any {
	if v == nil {
		return d
	}
	return v
}

// TestClickHouseRestart kills the server while wscap inserts, and starts it
// again: the batches that failed are retried, nothing is lost, and nothing
// is there twice.
func TestClickHouseRestart(t *testing.T) {
	servers := startClickHouse(t, 1)
	s := servers[0]
	path, _ := generate(t, "medium", gen.Options{Seed: 5}, gen.ScenarioParams{Conns: 30, Messages: 100})
	want, _, _ := wscap(t, "read", "--format", "jsonl", path)
	var wantMsgs int
	for _, r := range records(t, want) {
		if r["kind"] == "message" {
			wantMsgs++
		}
	}
	bin, _ := clickhouseBinaries(t)
	done := make(chan string)
	var code int
	go func() {
		// Small batches, so that the run is many inserts long.
		_, stderr, c := wscap(t, "read", "--format", "jsonl", "--workers", "2", "--sink-payload", "--sink",
			sinkURL(s, "insert_distributed_sync", "1", "batch", "32768", "retry", "90s", "timeout", "5s"), path)
		code = c
		done <- stderr
	}()
	deadline := time.Now().Add(30 * time.Second)
	for s.count("SELECT count() FROM wscap.wscap_messages_local") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no message reached the server")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	time.Sleep(time.Second)
	s.start(bin)
	s.waitUp()
	stderr := <-done
	if code != exitOK {
		t.Fatalf("read --sink across a restart: status %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "retried") {
		t.Errorf("no insert was retried: %s", stderr)
	}
	run := runID([]string{path})
	if n := s.count(fmt.Sprintf("SELECT count() FROM wscap.wscap_messages FINAL WHERE run = '%s'", run)); n != wantMsgs {
		t.Errorf("%d messages after the restart, want %d", n, wantMsgs)
	}
	s.exec("OPTIMIZE TABLE wscap.wscap_messages_local FINAL")
	if n := s.count("SELECT count() FROM wscap.wscap_messages_local"); n != wantMsgs {
		t.Errorf("%d message rows once merged, want %d", n, wantMsgs)
	}
	t.Logf("%s", strings.TrimSpace(stderr))
}

// TestClickHouseUnreachable: a server that refuses connections, and one
// that accepts them and never answers, end the run with an error that says
// what was written and what was not.
func TestClickHouseUnreachable(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	refused := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	for _, c := range []struct{ name, addr string }{{"refused", refused}, {"silent", silent.Addr().String()}} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, stderr, code := wscap(t, "read", "--format", "jsonl", "--sink", "clickhouse=http://"+c.addr+"/wscap?timeout=300ms&retry=1s", "../../testdata/real/gorilla-basic.pcap")
			if code != exitError {
				t.Fatalf("status %d, want %d\n%s", code, exitError, stderr)
			}
			for _, want := range []string{"clickhouse: gave up after", "written: 0 rows", "not written: ", "handshakes seq 0-0", "run gorilla-basic.pcap-"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s to give up", d)
			}
		})
	}
}

// TestLiveSink: wscap live on the loopback interface writes what it
// decodes into ClickHouse, flushed every second and at the stop.
func TestLiveSink(t *testing.T) {
	requireRoot(t)
	s := startClickHouse(t, 1)[0]
	addr, port := loopbackEcho(t, true)
	exe := liveExe(t)
	ws := startProcess(t, liveHelper(exe, nil, "wscap", "live", "-i", "lo", "-f", fmt.Sprintf("tcp port %d", port),
		"--format", "jsonl", "--sink", sinkURL(s, "insert_distributed_sync", "1"), "--sink-payload"))
	ws.waitFor(t, "wscap listening", 10*time.Second, func(_, errs string) bool { return strings.Contains(errs, "listening on") })
	const n = 25
	runWsappClient(t, "client", "-compress", "-n", strconv.Itoa(n), "ws://"+addr+"/")
	ws.waitFor(t, "connection summary", 10*time.Second, func(out, _ string) bool { return strings.Contains(out, `"kind":"connection"`) })
	// Flushed by age while the capture runs, before any stop (the
	// deadline is long for a loaded machine).
	deadline := time.Now().Add(30 * time.Second)
	for s.count("SELECT count() FROM wscap.wscap_connections WHERE run LIKE 'live-%'") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the connection record did not reach the server while the capture ran")
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, errs := ws.stop(t, os.Interrupt, 20*time.Second)
	var msgs []string
	for _, r := range records(t, out) {
		if r["kind"] == "message" {
			msgs = append(msgs, stringOr(r["text"], r["data"]))
		}
	}
	if !strings.Contains(errs, "clickhouse: ") || strings.Contains(errs, "records dropped") {
		t.Errorf("stderr: %s", errs)
	}
	var rows []string
	for _, r := range chRows(t, s, "SELECT if(text != '', text, data) AS p FROM wscap.wscap_messages FINAL WHERE run LIKE 'live-%' ORDER BY seq") {
		rows = append(rows, r["p"].(string))
	}
	if len(rows) != len(msgs) || len(msgs) < 2*n {
		t.Errorf("%d messages in ClickHouse, %d live", len(rows), len(msgs))
	} else {
		for i := range rows {
			if rows[i] != msgs[i] {
				t.Errorf("message %d: %.80q in ClickHouse, %.80q live", i, rows[i], msgs[i])
			}
		}
	}
	if n := s.count("SELECT count() FROM wscap.wscap_totals WHERE run LIKE 'live-%'"); n != 1 {
		t.Errorf("%d totals rows", n)
	}
}
