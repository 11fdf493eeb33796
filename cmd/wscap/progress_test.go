package main

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wscap/wscap/output"
	"github.com/wscap/wscap/pcap"
)

// lockedBuffer is a bytes.Buffer the progress goroutine and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestProgress: the line shows the share of the file read, packets and
// messages, redraws in place, and is erased at the end.
func TestProgress(t *testing.T) {
	var out lockedBuffer
	p := startProgress(&out, 100<<20, func() int64 { return 50 << 20 }, func() int64 { return 1234 }, func() int64 { return 56 })
	want := "\r\x1b[K[===============               ]  50% 50/100 MB, 1234 packets, 56 messages"
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), want) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	p.end()
	got := out.String()
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "\r\x1b[K") || strings.Contains(got, "\n") {
		t.Errorf("progress wrote %q", got)
	}
}

// TestProgressCountsStatsMessages: under stats, which writes no message
// records, the shards still count the messages they decode.
func TestProgressCountsStatsMessages(t *testing.T) {
	var pf pipelineFlags
	pf.workers, pf.format = 2, "stats"
	e := newEngine(engineOptions{shards: 2, batchSize: batchPackets, dissect: pf.dissectOptions(), newEnc: func() output.Encoder { return output.NewStats(io.Discard, false).Encoder() }, writer: output.NewStats(io.Discard, false)})
	src, err := pcap.Open("../../testdata/real/node-fragmented.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := e.readAll(src, 0); err != nil {
		t.Fatal(err)
	}
	e.finish()
	// 12: the messages `read` writes for this capture, 6 each way (the
	// MSGS column of its stats row).
	if n := e.messagesDecoded(); n != 12 {
		t.Errorf("%d messages counted, want 12", n)
	}
}
