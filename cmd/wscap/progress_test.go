package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
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
