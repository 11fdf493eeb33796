package output

import (
	"io"
	"testing"
	"time"

	"github.com/wscap/wscap/dissect"
)

// TestReportBucketsBounded: a capture whose packets span decades (a
// forged timestamp) gets as many intervals as a short one, wider.
func TestReportBucketsBounded(t *testing.T) {
	r := NewReport(io.Discard, "test")
	for _, ts := range []time.Time{time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 1, 1, 0, 0, 1, 5e8, time.UTC), time.Date(2038, 1, 1, 0, 0, 0, 0, time.UTC)} {
		ev := &dissect.Event{Kind: dissect.KindMessage, Conn: &dissect.ConnInfo{}, Pos: dissect.Pos{TS: ts},
			Message: &dissect.Message{Opcode: dissect.OpText, TextValid: true, Payload: []byte("hi"), Length: 2, WireLength: 2, Frames: 1}}
		if err := r.WriteRecord(encoded(r.Encoder(), ev, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.buckets) > reportMaxBuckets || r.bucketSec < 1<<18 {
		t.Fatalf("%d intervals of %d s", len(r.buckets), r.bucketSec)
	}
	var n int64
	for _, b := range r.buckets {
		n += b.Msgs[0]
	}
	if n != 3 || r.buckets[0].Msgs[0] != 2 {
		t.Errorf("messages per interval lost: %d in all, %d in the first", n, r.buckets[0].Msgs[0])
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}
