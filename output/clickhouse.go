package output

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wscap/wscap/dissect"
)

// ClickHouse writes records into ClickHouse tables over its HTTP
// interface: INSERT ... FORMAT JSONEachRow, gzip-compressed, one table per
// record kind (docs/clickhouse.sql has the schema). Each row is the JSON
// Lines record itself but for its kind (the table says it), prefixed with the run's id and the record's
// sequence number in the run, and with the record (but its kind and
// connection number) as a string in the "record" column, so that nested
// fields, which the tables have no columns for, stay queryable.
//
// (run, seq) is the tables' key, and the tables are ReplacingMergeTree: a
// batch sent again after an error whose outcome is unknown (a timeout, a
// server killed while it inserted, a shard that took its part while
// another did not) replaces its own rows instead of adding them twice.
// Queries that must not count a retried batch twice read with FINAL.
//
// Records are gathered in one batch per table. A batch is sent when it
// holds BatchBytes, when FlushEvery has passed since its first record (live
// capture) and at Close. Options.Senders goroutines send the batches, one
// batch at a time each; while Queue batches wait for them, WriteRecord
// blocks (back-pressure on the pipeline) or, with Drop, drops the batch and
// counts it.
type ClickHouse struct {
	o        ClickHouseOptions
	endpoint *url.URL // the HTTP interface, with the settings to send
	client   *http.Client

	mu      sync.Mutex
	batches [numCHTables]*chBatch
	free    []*chBatch
	seq     uint64
	err     error // sticky: the sink gave up
	closed  bool
	stopped chan struct{} // closed by Close: stops the flush timer

	queue chan *chBatch
	sent  chan struct{} // closed when the senders are done
	stats ClickHouseStats
	// failed are the batches that were not written, for the error.
	failed []chRange
}

// chRange is a batch's table and sequence numbers, [first, end).
type chRange struct {
	table      int
	first, end uint64
}

// ClickHouseOptions configures a ClickHouse sink.
type ClickHouseOptions struct {
	// URL is the server's HTTP interface, e.g. http://user:pass@host:8123.
	// Its path, or a database= parameter, names the database; prefix= and
	// suffix= what surrounds the record kind in the table names
	// ("wscap_" and ""); run= the run's id; batch=, flush=, timeout=,
	// retry=, queue= and senders= override the fields below. Any other
	// parameter is a ClickHouse setting and is sent with every insert.
	// Without a user in the URL, CLICKHOUSE_USER and CLICKHOUSE_PASSWORD
	// are used.
	URL string
	// Run identifies this run's rows; with (run, seq) as the key, a run
	// written again replaces its rows.
	Run string
	// Payload keeps message and frame payloads ("text", "data").
	Payload bool
	// Drop drops a batch, counted, instead of waiting when the queue is
	// full (live capture: the kernel would drop packets instead).
	Drop bool
	// BatchBytes is a batch's size before it is sent (default 16 MiB of
	// JSON, held gzipped: about 2 MiB for rows without payloads),
	// FlushEvery the age at which a batch is sent anyway (0: only by size
	// and at Close). ClickHouse makes a part of every insert: fewer,
	// larger inserts cost the server less.
	BatchBytes int
	FlushEvery time.Duration
	// Timeout bounds one insert (default 30s); RetryFor how long a batch
	// is retried, with backoff, before the sink gives up (default 60s).
	Timeout, RetryFor time.Duration
	// Queue is the number of full batches waiting to be sent (default 2;
	// with Drop, twice the number of tables).
	Queue int
	// Senders is the number of inserts in flight at once (default 2). At
	// the end of a run the last batch of every table is sent; with one
	// sender the run waited while the server parsed them in turn, on one
	// core.
	Senders int
}

// ClickHouseStats counts what a sink wrote.
type ClickHouseStats struct {
	Rows    [numCHTables]int64 // rows written, by table
	Inserts int64              // inserts that succeeded
	Retries int64              // inserts sent again after an error
	// Dropped counts the records of the batches dropped because the
	// server was slower than the input (Drop); NotWritten those of
	// batches the sink gave up on, or that came after.
	Dropped, NotWritten int64
	Database            string
	Tables              [numCHTables]string
}

// Written is the number of rows written.
func (s *ClickHouseStats) Written() int64 {
	var n int64
	for _, r := range s.Rows {
		n += r
	}
	return n
}

// String lists the rows written by table: "12 handshakes, 3400 messages".
func (s *ClickHouseStats) String() string {
	var parts []string
	for t, n := range s.Rows {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, chTableNames[t]))
		}
	}
	if len(parts) == 0 {
		return "no rows"
	}
	return strings.Join(parts, ", ")
}

// The tables, one per record kind.
const (
	chHandshakes = iota
	chMessages
	chFrames
	chFindings
	chConnections
	chTotals
	numCHTables
)

var chTableNames = [numCHTables]string{"handshakes", "messages", "frames", "findings", "connections", "totals"}

func chTable(k dissect.Kind) (int, bool) {
	switch k {
	case dissect.KindHandshake:
		return chHandshakes, true
	case dissect.KindMessage:
		return chMessages, true
	case dissect.KindFrame:
		return chFrames, true
	case dissect.KindFinding:
		return chFindings, true
	case dissect.KindConnection:
		return chConnections, true
	}
	return 0, false
}

// chBatch is the rows of one insert.
type chBatch struct {
	table      int
	rows       int64
	first, end uint64 // the sequence numbers of its rows: [first, end)
	started    time.Time
	// Rows are compressed as they come, chStage bytes at a time: a batch
	// holds its rows gzipped (gz), and buf those not yet compressed. raw
	// counts the JSON bytes of all its rows.
	raw    int
	buf    []byte
	zw     *gzip.Writer
	gz     bytes.Buffer
	sealed bool // zw closed: gz is the request body
}

// chStage is how many bytes of rows a batch gathers before compressing
// them.
const chStage = 64 << 10

// compress moves the batch's uncompressed rows into gz.
func (b *chBatch) compress() {
	b.raw += len(b.buf)
	b.zw.Write(b.buf) // a bytes.Buffer does not fail
	b.buf = b.buf[:0]
}

// seal compresses what is left and ends the gzip stream.
func (b *chBatch) seal() {
	if !b.sealed {
		b.compress()
		b.zw.Close()
		b.sealed = true
	}
}

// ErrSinkGaveUp is wrapped by the error of a sink that stopped writing.
var ErrSinkGaveUp = errors.New("clickhouse: gave up")

// NewClickHouse checks o and starts the sender. It does not contact the
// server: the first insert does.
func NewClickHouse(o ClickHouseOptions) (*ClickHouse, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("clickhouse URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("clickhouse URL %q: want http://[user[:password]@]host:port/DATABASE", o.URL)
	}
	o.BatchBytes = cmp.Or(o.BatchBytes, 16<<20)
	o.Timeout = cmp.Or(o.Timeout, 30*time.Second)
	o.RetryFor = cmp.Or(o.RetryFor, 60*time.Second)
	if o.Drop {
		// Every table's batch may come of age at one tick: a queue that
		// cannot take them all would drop records a server that keeps up
		// could have had.
		o.Queue = cmp.Or(o.Queue, 2*numCHTables)
	}
	o.Queue = cmp.Or(o.Queue, 2)
	o.Senders = cmp.Or(o.Senders, 2)
	q := u.Query()
	db := strings.Trim(u.Path, "/")
	if v := q.Get("database"); v != "" {
		db = v
	}
	if db == "" {
		db = "default"
	}
	q.Set("database", db)
	prefix, suffix := "wscap_", ""
	if q.Has("prefix") {
		prefix = q.Get("prefix")
	}
	suffix = q.Get("suffix")
	if v := q.Get("run"); v != "" {
		o.Run = v
	}
	for _, p := range []struct {
		name string
		d    *time.Duration
	}{{"flush", &o.FlushEvery}, {"timeout", &o.Timeout}, {"retry", &o.RetryFor}} {
		if v := q.Get(p.name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return nil, fmt.Errorf("clickhouse URL: %s=%q is not a duration such as 5s", p.name, v)
			}
			*p.d = d
		}
	}
	for _, p := range []struct {
		name string
		n    *int
	}{{"batch", &o.BatchBytes}, {"queue", &o.Queue}, {"senders", &o.Senders}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("clickhouse URL: %s=%q is not a positive number", p.name, v)
			}
			*p.n = n
		}
	}
	for _, k := range []string{"prefix", "suffix", "run", "flush", "timeout", "retry", "batch", "queue", "senders"} {
		q.Del(k)
	}
	if u.User == nil {
		if user := os.Getenv("CLICKHOUSE_USER"); user != "" {
			u.User = url.UserPassword(user, os.Getenv("CLICKHOUSE_PASSWORD"))
		}
	}
	if !validName(db) || !validName(prefix+"x"+suffix) {
		return nil, fmt.Errorf("clickhouse URL: database %q and table prefix %q, suffix %q must be letters, digits and _", db, prefix, suffix)
	}
	if o.Run == "" {
		return nil, errors.New("clickhouse: no run id")
	}
	q.Set("input_format_skip_unknown_fields", "1") // the columns are a choice of the record's fields
	u.RawQuery = q.Encode()
	u.Path = "/"
	c := &ClickHouse{o: o, endpoint: u, client: &http.Client{},
		queue: make(chan *chBatch, o.Queue), sent: make(chan struct{}), stopped: make(chan struct{})}
	c.stats.Database = db
	for t, name := range chTableNames {
		c.stats.Tables[t] = prefix + name + suffix
	}
	var wg sync.WaitGroup
	for range o.Senders {
		wg.Go(c.send)
	}
	go func() {
		wg.Wait()
		close(c.sent)
	}()
	if o.FlushEvery > 0 {
		go c.flushOld()
	}
	return c, nil
}

func validName(s string) bool {
	for _, r := range s {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return s != ""
}

// Encoder returns the encoder whose records WriteRecord takes. It runs on
// the pipeline's shards, so the row is made there but for its run, sequence
// number and connection number: the JSON Lines record (without payloads
// unless Payload is set), after the record as a string.
func (c *ClickHouse) Encoder() Encoder {
	return &chEncoder{jsonl: JSONLEncoder{NoPayload: !c.o.Payload}}
}

type chEncoder struct {
	jsonl JSONLEncoder
	body  []byte
}

// Encode appends the row's body (see AppendRecord): the record is bytes
// only.
func (e *chEncoder) Encode(dst []byte, ev *dissect.Event) ([]byte, any, bool) {
	out := e.AppendRecord(dst, ev)
	return out, nil, out != nil
}

// AppendRecord appends the time, `,"record":"{…}"` and the JSON Lines body. A
// message or frame has no "record" unless it has nested fields (an
// application protocol's): its columns hold all of it.
func (e *chEncoder) AppendRecord(dst []byte, ev *dissect.Event) []byte {
	if _, ok := chTable(ev.Kind); !ok {
		return nil
	}
	body := e.jsonl.AppendRecord(e.body[:0], ev)
	if body == nil {
		return nil
	}
	e.body = body
	// The time as numbers (a DateTime and its nanoseconds): parsing the
	// text would cost the server more than the rest of the row.
	dst = append(dst, `,"time":`...)
	dst = strconv.AppendInt(dst, ev.Pos.TS.Unix(), 10)
	dst = append(dst, `,"ns":`...)
	dst = strconv.AppendInt(dst, int64(ev.Pos.TS.Nanosecond()), 10)
	if ev.Kind != dissect.KindFrame && (ev.Kind != dissect.KindMessage || ev.Message.App != nil) {
		dst = append(dst, `,"record":"{`...)
		dst = appendEscaped(dst, body[1:len(body)-1]) // without the leading comma and the newline
		dst = append(dst, '"')
		// The nested objects are in the record, and no column takes
		// them: the server would only parse them to skip them (measured:
		// a handshake or connection row cost it ~25 µs with them).
		dst = appendScalars(dst, body[1:len(body)-2])
		return append(dst, '}', '\n')
	}
	return append(dst, body...)
}

// appendScalars appends the fields of a JSON object's inside ("k":v,…)
// whose values are not objects, each after a comma. The input is an
// encoder's output, well formed; anything it cannot read is kept as it
// is.
func appendScalars(dst, in []byte) []byte {
	for len(in) > 0 {
		if in[0] == ',' {
			in = in[1:]
			continue
		}
		key := skipJSON(in, 0)
		if in[0] != '"' || key >= len(in) || in[key] != ':' || key+1 >= len(in) {
			return append(append(dst, ','), in...)
		}
		end := skipJSON(in, key+1)
		if in[key+1] != '{' {
			dst = append(append(dst, ','), in[:end]...)
		}
		in = in[end:]
	}
	return dst
}

// skipJSON returns the end of the JSON value that starts at in[i] (a
// string, an object or array, or a scalar up to the next delimiter).
func skipJSON(in []byte, i int) int {
	switch in[i] {
	case '"':
		for j := i + 1; j < len(in); j++ {
			switch in[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
	case '{', '[':
		depth := 0
		for j := i; j < len(in); j++ {
			switch in[j] {
			case '"':
				j = skipJSON(in, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
	default:
		for j := i; j < len(in); j++ {
			if in[j] == ',' || in[j] == '}' || in[j] == ']' {
				return j
			}
		}
	}
	return len(in)
}

// WriteRecord adds a record encoded by Encoder to its table's batch.
func (c *ClickHouse) WriteRecord(r *Encoded) error {
	kind, conn, body := r.Kind, r.Conn, r.Bytes
	t, ok := chTable(kind)
	if !ok {
		return nil
	}
	return c.write(t, func(b []byte) []byte {
		b = append(b, `"conn":`...)
		b = strconv.AppendInt(b, int64(conn), 10)
		return append(b, body...)
	})
}

// write adds a row to table t's batch: its run and sequence number, then
// what row appends.
func (c *ClickHouse) write(t int, row func([]byte) []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		c.stats.NotWritten++
		return c.err
	}
	b := c.batch(t)
	b.buf = row(c.appendRowStart(b.buf))
	return c.added(t, b)
}

// Finish adds the run's totals record to the totals table.
func (c *ClickHouse) Finish(t *Totals) { c.WriteTotals(t.Record) }

// WriteTotals adds the run's totals (any value that encodes as a JSON
// object) to the totals table.
func (c *ClickHouse) WriteTotals(v any) error {
	rec, err := json.Marshal(v)
	if err != nil || len(rec) < 2 || rec[0] != '{' {
		return fmt.Errorf("clickhouse: totals: %w", err)
	}
	return c.write(chTotals, func(b []byte) []byte {
		b = append(b, `"record":"`...)
		b = appendEscaped(b, rec)
		b = append(b, '"')
		b = appendScalars(b, rec[1:len(rec)-1])
		return append(b, '}', '\n')
	})
}

// appendRowStart appends `{"run":"…","seq":N,` and counts the row.
func (c *ClickHouse) appendRowStart(dst []byte) []byte {
	dst = append(dst, `{"run":"`...)
	dst = appendEscaped(dst, []byte(c.o.Run))
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendUint(dst, c.seq, 10)
	c.seq++
	return append(dst, ',')
}

func (c *ClickHouse) batch(t int) *chBatch {
	b := c.batches[t]
	if b == nil {
		if n := len(c.free); n > 0 {
			b, c.free = c.free[n-1], c.free[:n-1]
		} else {
			b = &chBatch{}
		}
		b.table, b.rows, b.first, b.raw, b.buf, b.sealed = t, 0, c.seq, 0, b.buf[:0], false
		b.gz.Reset()
		if b.zw == nil {
			b.zw, _ = gzip.NewWriterLevel(&b.gz, gzip.BestSpeed)
		} else {
			b.zw.Reset(&b.gz)
		}
		if c.o.FlushEvery > 0 {
			b.started = time.Now()
		}
		c.batches[t] = b
	}
	return b
}

func (c *ClickHouse) added(t int, b *chBatch) error {
	b.rows++
	b.end = c.seq
	if len(b.buf) >= chStage {
		b.compress()
	}
	if b.raw+len(b.buf) >= c.o.BatchBytes {
		c.batches[t] = nil
		c.enqueue(b)
	}
	return c.err
}

// enqueue hands b to the sender; it waits, with c.mu unlocked, while the
// queue is full, or drops b with Drop.
func (c *ClickHouse) enqueue(b *chBatch) {
	b.seal()
	select {
	case c.queue <- b:
		return
	default:
	}
	if c.o.Drop {
		c.stats.Dropped += b.rows
		c.free = append(c.free, b)
		return
	}
	c.mu.Unlock()
	c.queue <- b
	c.mu.Lock()
}

// flushOld sends the batches older than FlushEvery.
func (c *ClickHouse) flushOld() {
	tick := time.NewTicker(max(c.o.FlushEvery/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-c.stopped:
			return
		case now := <-tick.C:
			c.mu.Lock()
			for t, b := range c.batches {
				if b != nil && !c.closed && now.Sub(b.started) >= c.o.FlushEvery {
					c.batches[t] = nil
					c.enqueue(b)
				}
			}
			c.mu.Unlock()
		}
	}
}

// send inserts queued batches, each retried with backoff for up to
// RetryFor.
func (c *ClickHouse) send() {
	for b := range c.queue {
		c.mu.Lock()
		failed := c.err != nil
		c.mu.Unlock()
		if !failed {
			if err := c.insert(b); err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				failed = true
			}
		}
		c.mu.Lock()
		if failed {
			c.stats.NotWritten += b.rows
			c.failed = append(c.failed, chRange{b.table, b.first, b.end})
		} else {
			c.stats.Rows[b.table] += b.rows
			c.stats.Inserts++
		}
		c.free = append(c.free, b)
		c.mu.Unlock()
	}
}

// insert sends one batch until it is written, it fails for good, or
// RetryFor has passed.
func (c *ClickHouse) insert(b *chBatch) error {
	u := *c.endpoint
	q := u.Query()
	q.Set("query", "INSERT INTO "+c.stats.Database+"."+c.stats.Tables[b.table]+" FORMAT JSONEachRow")
	u.RawQuery = q.Encode()
	start := time.Now()
	wait := 100 * time.Millisecond
	for try := 1; ; try++ {
		err := c.post(u.String(), b.gz.Bytes())
		if err == nil {
			return nil
		}
		var perm permanentError
		if errors.As(err, &perm) {
			return fmt.Errorf("%w: %s: %w", ErrSinkGaveUp, c.stats.Tables[b.table], err)
		}
		if time.Since(start)+wait > c.o.RetryFor {
			return fmt.Errorf("%w after %d tries in %s: %s: %w", ErrSinkGaveUp, try, time.Since(start).Round(time.Millisecond), c.stats.Tables[b.table], err)
		}
		time.Sleep(wait)
		wait = min(2*wait, 5*time.Second)
		c.mu.Lock()
		c.stats.Retries++
		c.mu.Unlock()
	}
}

// permanentError is an answer that sending again would not change (a
// missing table, a wrong password, a row the table refuses).
type permanentError struct{ error }

// retryableCodes are the ClickHouse error codes that say the server was
// busy or a shard unreachable, not that the insert was wrong.
// (TIMEOUT_EXCEEDED, TOO_MANY_SIMULTANEOUS_QUERIES, SOCKET_TIMEOUT,
// NETWORK_ERROR, MEMORY_LIMIT_EXCEEDED, TABLE_IS_READ_ONLY, TOO_MANY_PARTS,
// ALL_CONNECTION_TRIES_FAILED, UNKNOWN_STATUS_OF_INSERT, KEEPER_EXCEPTION).
var retryableCodes = []int{159, 202, 209, 210, 241, 242, 252, 279, 319, 999}

func (c *ClickHouse) post(u string, body []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return permanentError{err}
	}
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Content-Type", "application/x-ndjson")
	if c.endpoint.User != nil {
		pw, _ := c.endpoint.User.Password()
		req.SetBasicAuth(c.endpoint.User.Username(), pw)
		req.URL.User = nil
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = redact(ue.URL) // settings may hold a password
		}
		return err // refused, reset, timed out: the server may come back
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	text := strings.TrimSpace(string(msg))
	err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, text)
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return err
	}
	if code, ok := chErrorCode(text); ok && slices.Contains(retryableCodes, code) {
		return err
	}
	return permanentError{err}
}

// redact hides the values of a URL's settings but the query (which names
// the table): password= may be among them.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(the ClickHouse URL)"
	}
	u.User = nil
	q := u.Query()
	for k := range q {
		if k != "query" && k != "database" {
			q.Set(k, "…")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// chErrorCode reads N from "Code: N, e.displayText() = ...".
func chErrorCode(s string) (int, bool) {
	_, rest, ok := strings.Cut(s, "Code: ")
	if !ok {
		return 0, false
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	n, err := strconv.Atoi(rest[:end])
	return n, err == nil
}

// Close sends what is left and waits for it. Its error says what was
// written and what was not.
func (c *ClickHouse) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.err
	}
	c.closed = true
	close(c.stopped)
	for t, b := range c.batches {
		if b != nil {
			c.batches[t] = nil
			c.o.Drop = false // the last batches wait for the sender
			c.enqueue(b)
		}
	}
	c.mu.Unlock()
	close(c.queue)
	<-c.sent
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		slices.SortFunc(c.failed, func(a, b chRange) int { return cmp.Compare(a.first, b.first) })
		ranges := make([]string, len(c.failed))
		for i, r := range c.failed {
			ranges[i] = fmt.Sprintf("%s seq %d-%d", chTableNames[r.table], r.first, r.end-1)
		}
		c.err = fmt.Errorf("%w; written: %d rows (%s); not written: %d records (%s, and any after them) of run %s",
			c.err, c.stats.Written(), c.stats.String(), c.stats.NotWritten, strings.Join(ranges, ", "), c.o.Run)
	}
	return c.err
}

// Stats returns what the sink wrote; final once Close returned.
func (c *ClickHouse) Stats() ClickHouseStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// appendEscaped appends s escaped for a JSON string: quotes, backslashes
// and control bytes (s is JSON text, a run id or a file's name).
func appendEscaped(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		}
		start = i + 1
	}
	return append(dst, s[start:]...)
}
