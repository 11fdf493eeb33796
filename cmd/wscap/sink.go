package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wscap/wscap/output"
)

// newSink makes the --sink writer: it writes every record into a store
// besides the run's output. Its run id names the inputs (base name,
// size and modification time of each file), so that running the same job
// again replaces its rows instead of adding them; live capture and
// standard input get a new id each time.
func newSink(pf *pipelineFlags) (*output.ClickHouse, error) {
	kind, url, ok := strings.Cut(pf.sink, "=")
	if !ok || kind != "clickhouse" {
		return nil, fmt.Errorf("--sink %q: want clickhouse=URL, e.g. clickhouse=http://localhost:8123/wscap", pf.sink)
	}
	o := output.ClickHouseOptions{URL: url, Payload: pf.sinkPayload, Run: runID(pf.sinkInputs), Drop: pf.sinkLive}
	if pf.sinkLive {
		o.FlushEvery = time.Second
	}
	ch, err := output.NewClickHouse(o)
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// runID names a run by its input files, or uniquely when there are none
// (live capture) or one is standard input.
func runID(files []string) string {
	if len(files) == 0 {
		return uniqueID("live")
	}
	h := sha256.New()
	for _, f := range files {
		st, err := os.Stat(f)
		if f == "-" || err != nil || !st.Mode().IsRegular() {
			return uniqueID("stdin")
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00", filepath.Base(f), st.Size(), st.ModTime().UnixNano())
	}
	name := strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || r == '+' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, filepath.Base(files[0]))
	if len(files) > 1 {
		name += fmt.Sprintf("+%d", len(files)-1)
	}
	return name + "-" + hex.EncodeToString(h.Sum(nil)[:6])
}

func uniqueID(what string) string {
	var r [6]byte
	rand.Read(r[:])
	return what + "-" + time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(r[:])
}

// reportSink says on stderr what the sink wrote, and what it dropped.
func reportSink(e *env, s *output.ClickHouse) {
	st := s.Stats()
	fmt.Fprintf(e.stderr, "wscap: clickhouse: %d rows in %d inserts into %s (%s)", st.Written(), st.Inserts, st.Database, st.String())
	if st.Retries > 0 {
		fmt.Fprintf(e.stderr, ", %d inserts retried", st.Retries)
	}
	fmt.Fprintln(e.stderr)
	if st.Dropped > 0 {
		fmt.Fprintf(e.stderr, "wscap: clickhouse: %d records dropped: the server took them slower than the capture brought them\n", st.Dropped)
	}
}
