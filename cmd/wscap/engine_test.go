package main

import (
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
