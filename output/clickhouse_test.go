package output

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wscap/wscap/dissect"
)

// The sink against a real server is tested in cmd/wscap (TestClickHouse*).
// These tests cover what a real server cannot be made to do on cue: be slow.

func TestClickHouseURL(t *testing.T) {
	t.Setenv("CLICKHOUSE_USER", "envuser")
	t.Setenv("CLICKHOUSE_PASSWORD", "envpw")
	for _, c := range []struct {
		url, db, table, user, settings, err string
	}{
		{url: "http://h:8123/wscap", db: "wscap", table: "wscap_messages", user: "envuser", settings: "database=wscap&input_format_skip_unknown_fields=1"},
		{url: "http://u:p@h:8123/?database=x&prefix=t_&suffix=_local&senders=3&insert_distributed_sync=1", db: "x", table: "t_messages_local", user: "u",
			settings: "database=x&input_format_skip_unknown_fields=1&insert_distributed_sync=1"},
		{url: "https://h/", db: "default", table: "wscap_messages", user: "envuser", settings: "database=default&input_format_skip_unknown_fields=1"},
		{url: "http://h/db?prefix=", db: "db", table: "messages", user: "envuser", settings: "database=db&input_format_skip_unknown_fields=1"},
		{url: "ftp://h/db", err: "want http://"},
		{url: "http://h/a;drop", err: "must be letters"},
		{url: "http://h/db?prefix=x-", err: "must be letters"},
		{url: "http://h/db?flush=soon", err: "flush="},
		{url: "http://h/db?batch=-1", err: "batch="},
		{url: "http://h/db?senders=0", err: "senders="},
	} {
		ch, err := NewClickHouse(ClickHouseOptions{URL: c.url, Run: "r"})
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.url, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		st := ch.Stats()
		if st.Database != c.db || st.Tables[chMessages] != c.table || ch.endpoint.User.Username() != c.user || ch.endpoint.RawQuery != c.settings {
			t.Errorf("%s: database %q table %q user %q settings %q", c.url, st.Database, st.Tables[chMessages], ch.endpoint.User.Username(), ch.endpoint.RawQuery)
		}
		ch.Close()
	}
}

// slowServer takes inserts only once release is closed, and keeps their
// rows.
type slowServer struct {
	*httptest.Server
	release chan struct{}
	mu      sync.Mutex
	rows    []map[string]any
	queries []string
}

func newSlowServer(t *testing.T) *slowServer {
	s := &slowServer{release: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-s.release
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body, _ := io.ReadAll(zr)
		s.mu.Lock()
		defer s.mu.Unlock()
		query := r.URL.Query().Get("query")
		s.queries = append(s.queries, query)
		for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Errorf("row %q: %v", line, err)
			}
			if _, ok := m["kind"]; ok {
				t.Errorf("row %q has a kind: its table says it", line)
			}
			m["kind"] = strings.TrimSuffix(strings.Fields(query)[2][len("db.wscap_"):], "s") // INSERT INTO db.wscap_KINDs FORMAT …
			s.rows = append(s.rows, m)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// messageBody is message i encoded by the sink's encoder; every fourth is a
// finding instead, so that rows with a "record" are among them.
func messageBody(ch *ClickHouse, i int) (dissect.Kind, []byte) {
	ev := &dissect.Event{Kind: dissect.KindMessage, Conn: &dissect.ConnInfo{}, Pos: dissect.Pos{TS: time.Unix(1700000000, int64(i)), Pkt: uint64(i + 1)}}
	if i%4 == 3 {
		ev.Kind, ev.Finding = dissect.KindFinding, &dissect.Finding{Code: "x", Detail: `d"` + strings.Repeat("y", i%50)}
	} else {
		ev.Message = &dissect.Message{Opcode: dissect.OpText, TextValid: true, Payload: []byte(`m"` + strings.Repeat("x", i%50))}
	}
	return ev.Kind, ch.Encoder().(*chEncoder).AppendRecord(nil, ev)
}

// TestClickHouseBackPressure: with a full queue, WriteRecord waits for the
// server; every record is written once it answers.
func TestClickHouseBackPressure(t *testing.T) {
	s := newSlowServer(t)
	ch, err := NewClickHouse(ClickHouseOptions{URL: s.URL + "/db", Run: "r", BatchBytes: 200, Queue: 1, Payload: true})
	if err != nil {
		t.Fatal(err)
	}
	var written atomic.Int64
	done := make(chan struct{})
	go func() {
		for i := range 100 {
			k, b := messageBody(ch, i)
			ch.WriteRecord(&Encoded{Kind: k, Conn: 1, Bytes: b})
			written.Add(1)
		}
		close(done)
	}()
	time.Sleep(100 * time.Millisecond)
	if n := written.Load(); n == 100 {
		t.Fatal("WriteRecord did not wait for the server")
	}
	close(s.release)
	<-done
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	st := ch.Stats()
	if len(s.rows) != 100 || st.Rows[chMessages] != 75 || st.Rows[chFindings] != 25 || st.Dropped != 0 {
		t.Fatalf("server has %d rows, stats %+v", len(s.rows), st)
	}
	seqs := map[float64]bool{}
	for i, r := range s.rows {
		seqs[r["seq"].(float64)] = true
		if r["run"] != "r" || r["conn"] != 1.0 || r["pkt"] == nil {
			t.Fatalf("row %d: %v", i, r)
		}
		switch r["kind"] {
		case "message":
			if !strings.HasPrefix(r["text"].(string), `m"`) || r["record"] != nil {
				t.Fatalf("row %d: %v", i, r)
			}
		case "finding":
			var rec map[string]any
			if err := json.Unmarshal([]byte(r["record"].(string)), &rec); err != nil || rec["detail"] != r["detail"] || rec["code"] != "x" || rec["ts"] != r["ts"] {
				t.Fatalf("row %d: record %q: %v", i, r["record"], err)
			}
		default:
			t.Fatalf("row %d: %v", i, r)
		}
	}
	if len(seqs) != 100 {
		t.Errorf("%d sequence numbers for 100 rows", len(seqs))
	}
	if !slices.Contains(s.queries, "INSERT INTO db.wscap_messages FORMAT JSONEachRow") {
		t.Errorf("queries %q", s.queries)
	}
}

// TestClickHouseSenders: Senders inserts are in flight at once, no more,
// and every row is written once.
func TestClickHouseSenders(t *testing.T) {
	for _, senders := range []int{1, 2, 3} {
		var inFlight, most atomic.Int32
		var rows atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(30 * time.Millisecond) // long enough for the others to arrive
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body, _ := io.ReadAll(zr)
			rows.Add(int64(bytes.Count(body, []byte("\n"))))
		}))
		ch, err := NewClickHouse(ClickHouseOptions{URL: srv.URL + "/db?senders=" + strconv.Itoa(senders), Run: "r", BatchBytes: 200, Queue: 1})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 60 {
			k, b := messageBody(ch, i)
			ch.WriteRecord(&Encoded{Kind: k, Conn: 1, Bytes: b})
		}
		if err := ch.Close(); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		if got := most.Load(); got != int32(senders) {
			t.Errorf("senders=%d: %d inserts at once", senders, got)
		}
		if st := ch.Stats(); rows.Load() != 60 || st.Written() != 60 {
			t.Errorf("senders=%d: server has %d rows, stats %+v", senders, rows.Load(), st)
		}
	}
}

// TestClickHouseDrop: live capture drops what the server cannot take in
// time, counts it, and never waits.
func TestClickHouseDrop(t *testing.T) {
	s := newSlowServer(t)
	ch, err := NewClickHouse(ClickHouseOptions{URL: s.URL + "/db", Run: "r", BatchBytes: 200, Queue: 1, Drop: true, FlushEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		k, b := messageBody(ch, i)
		ch.WriteRecord(&Encoded{Kind: k, Conn: 1, Bytes: b})
	}
	close(s.release)
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	st := ch.Stats()
	if st.Dropped == 0 || st.Written()+st.Dropped != 100 || int64(len(s.rows)) != st.Written() {
		t.Fatalf("dropped %d, written %d, server %d", st.Dropped, st.Written(), len(s.rows))
	}
}

// TestClickHouseFlushEvery: a batch that does not fill is sent when it is
// FlushEvery old (live capture), without Close.
func TestClickHouseFlushEvery(t *testing.T) {
	s := newSlowServer(t)
	close(s.release)
	ch, err := NewClickHouse(ClickHouseOptions{URL: s.URL + "/db", Run: "r", FlushEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	k, b := messageBody(ch, 3)
	ch.WriteRecord(&Encoded{Kind: k, Conn: 2, Bytes: b})
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.rows)
		s.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the batch was not sent")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClickHousePermanentError: an insert the server refuses for a reason
// that retrying would not change ends the sink at once.
func TestClickHousePermanentError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Code: 60, e.displayText() = DB::Exception: Table db.wscap_messages doesn't exist.", 404)
	}))
	defer srv.Close()
	ch, err := NewClickHouse(ClickHouseOptions{URL: srv.URL + "/db", Run: "r", RetryFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	k, b := messageBody(ch, 1)
	ch.WriteRecord(&Encoded{Kind: k, Conn: 1, Bytes: b})
	err = ch.Close()
	if err == nil || !strings.Contains(err.Error(), "doesn't exist") || !strings.Contains(err.Error(), "not written: 1 records (messages seq 0-0") {
		t.Fatalf("error %v", err)
	}
}

func TestAppendEscaped(t *testing.T) {
	for _, s := range []string{``, `plain`, `{"a":"b\"c\\d"}`, "tab\tnl\ncr\r", `ünïcödé "q"`, "\x00\x01\x1b[31m\x7f"} {
		got := appendEscaped([]byte(`"`), []byte(s))
		var back string
		if err := json.Unmarshal(append(got, '"'), &back); err != nil || back != s {
			t.Errorf("%q: %s -> %q, %v", s, got, back, err)
		}
	}
	if got := redact("http://u:p@h:8123/?database=d&password=secret&query=INSERT+INTO+d.t"); strings.Contains(got, "secret") || strings.Contains(got, "u:p") || !strings.Contains(got, "INSERT") {
		t.Errorf("redact: %s", got)
	}
	for s, want := range map[string]int{"Code: 60, e.displayText()": 60, "Code: 999": 999, "nothing": -1, "Code: x": -1} {
		n, ok := chErrorCode(s)
		if !ok {
			n = -1
		}
		if n != want {
			t.Errorf("chErrorCode(%q) = %d, want %d", s, n, want)
		}
	}
}

// TestAppendScalars: the fields whose values are objects are dropped from a
// row that has its record; everything else stays as it was written.
func TestAppendScalars(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{``, ``},
		{`"a":1`, `,"a":1`},
		{`"a":1,"b":"x","c":true,"d":null,"e":-1.5e3`, `,"a":1,"b":"x","c":true,"d":null,"e":-1.5e3`},
		{`"a":{"b":1},"c":2`, `,"c":2`},
		{`"a":1,"req":{"line":"GET /}{ HTTP/1.1","headers":[["X","\"}"]]},"z":"q"`, `,"a":1,"z":"q"`},
		{`"ext":["permessage-deflate; a=\"{\"","x"],"o":{}`, `,"ext":["permessage-deflate; a=\"{\"","x"]`},
		{`"s":"a\\","t":{"u":{"v":[{}]}},"w":[]`, `,"s":"a\\","w":[]`},
		{`"k\"ey":{"x":1},"n":0`, `,"n":0`},
		{`garbage`, `,garbage`},
		{`"a":1,"b"`, `,"a":1,"b"`},
	} {
		got := string(appendScalars(nil, []byte(c.in)))
		if got != c.want {
			t.Errorf("appendScalars(%s) = %s, want %s", c.in, got, c.want)
		}
		if c.in != "garbage" && c.in != `"a":1,"b"` {
			var m map[string]any
			if err := json.Unmarshal([]byte("{"+strings.TrimPrefix(got, ",")+"}"), &m); err != nil {
				t.Errorf("appendScalars(%s) = %s: %v", c.in, got, err)
			}
		}
	}
}
