package pipeline

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/wscap/wscap/dissect"
	"github.com/wscap/wscap/internal/testcaps"
	"github.com/wscap/wscap/output"
	"github.com/wscap/wscap/pcap"
)

// captures returns the bundled captures: public and real ones.
func captures(t *testing.T) []string {
	t.Helper()
	var caps []string
	for _, dir := range []string{"../testdata/public", "../testdata/real"} {
		c, err := testcaps.Find(dir)
		if err != nil {
			t.Fatal(err)
		}
		caps = append(caps, c...)
	}
	if len(caps) < 20 {
		t.Fatalf("only %d bundled captures found", len(caps))
	}
	return caps
}

// runJSONL runs the pipeline over caps, as one run, into JSON Lines.
func runJSONL(t *testing.T, o Options, caps []string) string {
	t.Helper()
	var out bytes.Buffer
	j := output.NewJSONL(&out, true, false)
	o.NewEncoder, o.Writer = j.Encoder, j
	e := New(o)
	for i, c := range caps {
		src, err := pcap.Open(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.ReadAll(src, i); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		src.Close()
	}
	e.Finish()
	if err := j.Close(); err != nil || e.WriteErr() != nil {
		t.Fatal(err, e.WriteErr())
	}
	return out.String()
}

// TestShardsDoNotChangeOutput runs every bundled capture with one, two and
// three shards, and with one packet per round: the output must be the same
// bytes. All captures go in one run, so that connections of several files
// and connection numbering across files are covered too.
func TestShardsDoNotChangeOutput(t *testing.T) {
	caps := captures(t)
	for _, frames := range []bool{false, true} {
		d := dissect.Options{Frames: frames}
		want := runJSONL(t, Options{Shards: 1, Dissect: d}, caps)
		if !bytes.Contains([]byte(want), []byte(`"kind":"message"`)) && !frames {
			t.Fatalf("no messages decoded")
		}
		for _, o := range []Options{{Shards: 2}, {Shards: 3}, {Shards: 2, Batch: 1}, {Shards: 3, Depth: 1, Ahead: [3]int{1, 1, 1}}} {
			o.Dissect = d
			if got := runJSONL(t, o, caps); got != want {
				t.Errorf("%+v (frames %v): output differs from one shard", o, frames)
			}
		}
	}
}

// TestMessagesDecoded: with an encoder that writes no message records
// (stats), the shards still count the messages they decode.
func TestMessagesDecoded(t *testing.T) {
	e, c := statsRun(t, 2)
	// 12: the messages `read` writes for this capture, 6 each way (the
	// MSGS column of its stats row).
	if n := e.MessagesDecoded(); n != 12 {
		t.Errorf("%d messages counted, want 12", n)
	}
	if c.Read != e.PacketsRead() && e.PacketsRead() > c.Read {
		t.Errorf("packets read %d, counters %+v", e.PacketsRead(), c)
	}
	if c.Read != c.WebSocket+c.OtherTCP+c.NotTCP+c.Undecodable+c.Fragments || e.Census().Protocols[dissect.ProtoWebSocket] != 1 {
		t.Errorf("counters %+v, census %+v", c, e.Census())
	}
}

// TestOnRecord: the hook sees every record written, with its connection.
func TestOnRecord(t *testing.T) {
	var out bytes.Buffer
	j := output.NewJSONL(&out, false, false)
	kinds := map[dissect.Kind]int{}
	e := New(Options{NewEncoder: j.Encoder, Writer: j, Keep: func(id int) bool { return id == 1 }, OnRecord: func(k dissect.Kind, id int, ci *dissect.ConnInfo) {
		if id != 1 || ci == nil || !ci.Client.IsValid() {
			t.Errorf("record %s of connection %d, %v", k, id, ci)
		}
		kinds[k]++
	}})
	src, err := pcap.Open("../testdata/real/node-fragmented.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	e.ReadAll(src, 0)
	e.Finish()
	j.Close()
	if kinds[dissect.KindMessage] != 12 || kinds[dissect.KindHandshake] != 1 || kinds[dissect.KindConnection] != 1 {
		t.Errorf("records seen %v", kinds)
	}
}

// TestIDWindow: the window of connection numbers answers what a map does,
// with connections that end in any order, one that stays open past the
// window's bound, and local numbers a shard skipped.
func TestIDWindow(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var w idWindow
	ref := map[int]int{}
	var open []int
	next, id := 1, 0
	w.add(next, 1000) // stays open all along
	ref[next] = 1000
	next++
	for step := 0; next < maxIDWindow+300000; step++ {
		if len(open) > 0 && (r.IntN(2) == 0 || len(open) > 500) {
			i := r.IntN(len(open))
			l := open[i]
			if got := w.get(l); got != ref[l] {
				t.Fatalf("step %d: get(%d) = %d, want %d", step, l, got, ref[l])
			}
			w.del(l)
			delete(ref, l)
			open[i] = open[len(open)-1]
			open = open[:len(open)-1]
			if got := w.get(l); got != 0 {
				t.Fatalf("step %d: %d still there after del", step, l)
			}
			continue
		}
		next += 1 + r.IntN(2) // sometimes a number is skipped
		id++
		w.add(next, id)
		ref[next] = id
		open = append(open, next)
	}
	if got := w.get(1); got != 1000 {
		t.Fatalf("the long-lived connection: %d", got)
	}
	if len(w.ids)-w.head > maxIDWindow || len(w.old) != 1 || cap(w.ids) > 4*maxIDWindow {
		t.Fatalf("window %d entries (array %d), %d moved to the map", len(w.ids)-w.head, cap(w.ids), len(w.old))
	}
	for l, want := range ref {
		if got := w.get(l); got != want {
			t.Fatalf("get(%d) = %d, want %d", l, got, want)
		}
	}
	if got := w.get(0); got != 0 {
		t.Fatalf("get(0) = %d", got)
	}
}

// statsRun runs node-fragmented.pcap through an engine of that many
// shards writing stats, to its Finish.
func statsRun(t *testing.T, shards int) (*Engine, Counters) {
	t.Helper()
	s := output.NewStats(io.Discard, false)
	e := New(Options{Shards: shards, NewEncoder: s.Encoder, Writer: s})
	src, err := pcap.Open("../testdata/real/node-fragmented.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := e.ReadAll(src, 0); err != nil {
		t.Fatal(err)
	}
	return e, e.Finish()
}

// flushWriter is a JSONL writer whose Flush says what had been written by
// then.
type flushWriter struct {
	*output.JSONL
	out     *bytes.Buffer
	flushed chan int // the bytes out held at each Flush
}

func (w *flushWriter) Flush() error {
	err := w.JSONL.Flush()
	select {
	case w.flushed <- w.out.Len():
	default:
	}
	return err
}

// heldSource hands out left-1 packets of its Source, then waits for
// release before it hands out the rest.
type heldSource struct {
	pcap.Source
	left    int
	release chan struct{}
}

func (s *heldSource) Next() (pcap.Record, error) {
	if s.left--; s.left == 0 {
		<-s.release
	}
	return s.Source.Next()
}

// TestFlushWriter: with FlushWriter, the records of the packets read so far
// reach the writer's Flush while the source still waits for more (what
// live capture and standard input need), at most once per record and, in
// rounds of many packets, less often than once per record; and the output
// is the same as without it.
func TestFlushWriter(t *testing.T) {
	newWriter := func() *flushWriter {
		var out bytes.Buffer
		return &flushWriter{JSONL: output.NewJSONL(&out, false, false), out: &out, flushed: make(chan int, 10000)}
	}
	run := func(w *flushWriter, flush bool, hold *heldSource, batch int) error {
		e := New(Options{Shards: 2, NewEncoder: w.Encoder, Writer: w, FlushWriter: flush, Batch: batch})
		src, err := pcap.Open("../testdata/real/node-fragmented.pcap")
		if err != nil {
			return err
		}
		defer src.Close()
		var from pcap.Source = src
		if hold != nil {
			hold.Source = src
			from = hold
		}
		if err := e.ReadAll(from, 0); err != nil {
			return err
		}
		e.Finish()
		return w.Close()
	}
	plain := newWriter()
	if err := run(plain, false, nil, 1); err != nil {
		t.Fatal(err)
	}
	if len(plain.flushed) != 0 {
		t.Fatalf("%d flushes without FlushWriter", len(plain.flushed))
	}

	w := newWriter()
	hold := &heldSource{left: 20, release: make(chan struct{})}
	done := make(chan error)
	go func() { done <- run(w, true, hold, 1) }()
	// The 19 packets before the held one carry the handshake and the first
	// messages: some of their records must be flushed while it is held.
	timeout := time.After(10 * time.Second)
	for n := 0; n == 0; {
		select {
		case n = <-w.flushed:
		case <-timeout:
			t.Fatal("nothing was flushed while the source waited")
		}
	}
	close(hold.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, want := w.out.String(), plain.out.String(); got != want {
		t.Errorf("output with FlushWriter differs:\n%s\nwant\n%s", got, want)
	}
	// Flushes that had something to write: at most one per record (with
	// Batch 1 and a small capture, about that; live rounds hold many).
	writes := func(w *flushWriter) int {
		n, last := 0, 0
		for len(w.flushed) > 0 {
			if b := <-w.flushed; b > last {
				n, last = n+1, b
			}
		}
		return n
	}
	records := strings.Count(plain.out.String(), "\n")
	if n := writes(w); n > records {
		t.Errorf("%d flushes wrote something, for %d records", n, records)
	}
	// Rounds of 8 packets (35 in the capture): the records of a round go
	// out together, so no more writes than rounds.
	w = newWriter()
	if err := run(w, true, nil, 8); err != nil {
		t.Fatal(err)
	}
	if n := writes(w); n == 0 || n > 35/8+1 || w.out.String() != plain.out.String() {
		t.Errorf("rounds of 8 packets: %d flushes wrote something, for %d records; same output %v", n, records, w.out.String() == plain.out.String())
	}
}
