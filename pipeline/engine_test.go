package pipeline

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

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
