package output

import (
	"bytes"
	"testing"

	"github.com/wscap/wscap/dissect"
)

// TestTeeFlush: a Tee's Flush flushes each half that can be flushed (the
// JSON Lines output) and leaves the one that prints only at Close (the
// stats table) alone.
func TestTeeFlush(t *testing.T) {
	var a, b bytes.Buffer
	tee := &Tee{A: NewJSONL(&a, false, false), B: NewStats(&b, false)}
	enc := tee.Encoder()
	ev := &dissect.Event{Kind: dissect.KindFinding, Conn: &dissect.ConnInfo{ID: 1}, Finding: &dissect.Finding{Code: "x", Detail: "d"}}
	if err := tee.WriteRecord(encoded(enc, ev, 1)); err != nil {
		t.Fatal(err)
	}
	if a.Len() != 0 {
		t.Fatalf("written before Flush: %q", a.String())
	}
	if err := tee.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(a.Bytes(), []byte(`{"kind":"finding","conn":1`)) || b.Len() != 0 {
		t.Errorf("after Flush: A %q, B %q", a.String(), b.String())
	}
}
