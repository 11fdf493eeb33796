package main

import (
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wscap/wscap/internal/gen"
)

// TestShardsDoNotChangeOutput runs every bundled capture with one, two and
// three shards, and with one packet per round: the output must be the same
// bytes.
func TestShardsDoNotChangeOutput(t *testing.T) {
	caps := publicCaptures(t)
	real, _ := filepath.Glob("../../testdata/real/*.pcap*")
	caps = append(caps, real...)
	// All captures in one run, so that connections of several files and
	// connection numbering across files are covered too.
	for _, frames := range []bool{false, true} {
		args := []string{"read", "--format", "jsonl"}
		if frames {
			args = append(args, "--frames")
		}
		want, _, _ := wscap(t, append(append(args, "--workers", "1"), caps...)...)
		for _, w := range []string{"2", "3"} {
			got, _, _ := wscap(t, append(append(args, "--workers", w), caps...)...)
			if got != want {
				t.Errorf("--workers %s (frames %v) output differs from --workers 1:\n%s", w, frames, firstDiff(got, want))
			}
		}
		old := batchPackets
		batchPackets = 1
		got, _, _ := wscap(t, append(append(args, "--workers", "2"), caps...)...)
		batchPackets = old
		if got != want {
			t.Errorf("one packet per round (frames %v) differs:\n%s", frames, firstDiff(got, want))
		}
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

// TestStatsWithoutPayloads: stats, which measures uncompressed messages
// without keeping them (dissect.Options.NoPayload), says exactly what it
// says when it keeps them, caps and findings included: on every bundled
// capture, on generated ones, and on text with runes cut across segments,
// invalid UTF-8 and loss inside a message.
func TestStatsWithoutPayloads(t *testing.T) {
	caps := publicCaptures(t)
	real, _ := filepath.Glob("../../testdata/real/*.pcap*")
	caps = append(caps, real...)
	for _, sc := range []string{"demo", "lengths"} {
		path, _ := generate(t, sc, gen.Options{Seed: 3}, gen.ScenarioParams{})
		caps = append(caps, path)
	}
	c := gen.New(gen.Options{Seed: 5})
	runes := strings.Repeat("é東😀a", 3000)
	for i, o := range []gen.ConnOptions{{}, {Transform: dropSteps(2, gen.FromServer, 1)}, {Transform: dropSteps(3, gen.FromClient, 2)}} {
		o.Client = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 7, byte(i)}), 41000)
		conn := c.Conn(o)
		conn.Handshake(gen.Handshake{})
		conn.Text(gen.FromClient, runes[:1+i])                                                                            // 1
		conn.Send(gen.FromServer, gen.Message{Opcode: gen.OpText, Payload: []byte(runes)})                                // 2: many segments
		conn.Send(gen.FromClient, gen.Message{Opcode: gen.OpText, Payload: []byte(runes[:9000] + "\xff" + runes[:9000])}) // 3: invalid
		conn.Send(gen.FromServer, gen.Message{Opcode: gen.OpText, Payload: []byte(runes[:5000]), Fragments: 4})
		conn.Send(gen.FromClient, gen.Message{Opcode: gen.OpText, Payload: []byte(runes[:4000] + "\xe2\x82"), Fragments: 3})
		conn.Close(gen.FromClient, 1000, "")
		conn.Close(gen.FromServer, 1000, "")
		conn.Teardown()
	}
	caps = append(caps, impairFile(t, c))
	for _, extra := range [][]string{nil, {"--max-message", "1001"}, {"--max-message", "7", "--max-assembling", "9000"}, {"--max-message", "20000", "--max-assembling", "25000"}} {
		args := append(append([]string{"stats", "--format", "jsonl", "--workers", "1"}, extra...), caps...)
		statsKeepPayload = true
		want, _, _ := wscap(t, args...)
		statsKeepPayload = false
		got, _, _ := wscap(t, args...)
		if got != want || !strings.Contains(want, `"kind":"connection"`) {
			t.Errorf("%v: without payloads differs:\n%s", extra, firstDiff(got, want))
		}
	}
}
