package main

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
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
