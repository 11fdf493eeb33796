package output

import (
	"io"
	"testing"

	"github.com/wscap/wscap/dissect"
)

// TestReportBucketsBounded: a capture whose packets span decades (a
// forged timestamp) gets as many intervals as a short one, wider.
func TestReportBucketsBounded(t *testing.T) {
	r := NewReport(io.Discard, "test")
	for _, ts := range []string{"2000-01-01T00:00:00Z", "2000-01-01T00:00:01.5Z", "2038-01-01T00:00:00Z"} {
		body := `,"ts":"` + ts + `","from":"client","opcode":"text","frames":1,"length":2,"wire_length":2,"compressed":false,"text":"hi"}`
		if err := r.WriteRecord(&Encoded{Kind: dissect.KindMessage, Conn: 1, Bytes: []byte(body)}); err != nil {
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
