package pcap

import (
	"bytes"
	"errors"
	"io"
	"runtime/metrics"
	"testing"

	"github.com/wscap/wscap/internal/testcaps"
)

// heapAllocs reads the cumulative bytes allocated on the heap: cheaper than
// runtime.ReadMemStats (no stop-the-world), so it can run on every input.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// FuzzSource reads arbitrary file bytes as a capture: NewFile, then Next
// until an error, decoding every record. It must not panic, must end, must
// return records no longer than the input, and must allocate in proportion
// to the input, not to the lengths the input claims (a record header
// announcing 4 GiB must not allocate 4 GiB). gzip input is exempt from the
// allocation bound: a small gzip stream can legitimately expand.
func FuzzSource(f *testing.F) {
	for _, b := range testcaps.Seeds(f, "..", 16<<10) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before := heapAllocs()
		src, err := NewFile("fuzz", bytes.NewReader(data), nil)
		if err != nil {
			if src != nil {
				t.Fatalf("NewFile returned a source with error %v", err)
			}
			return
		}
		dec := NewDecoder()
		var seg Segment
		for n := 0; ; n++ {
			if n > len(data) && !src.Gzip() {
				t.Fatalf("more records (%d) than input bytes", n)
			}
			rec, err := src.Next()
			if err != nil {
				if err != io.EOF && err.Error() == "" {
					t.Fatalf("empty error")
				}
				if errors.Is(err, io.EOF) && err != io.EOF {
					t.Fatalf("io.EOF wrapped: %v", err)
				}
				break
			}
			if !src.Gzip() && len(rec.Data) > len(data) {
				t.Fatalf("record of %d bytes from %d bytes of input", len(rec.Data), len(data))
			}
			switch dec.Decode(rec.LinkType, rec.Data, &seg) {
			case ClassTCP:
				if len(seg.Payload) > len(rec.Data) {
					t.Fatalf("payload of %d bytes in a %d-byte packet", len(seg.Payload), len(rec.Data))
				}
				if seg.Missing < 0 {
					t.Fatalf("negative Missing %d", seg.Missing)
				}
			case ClassNotTCP, ClassUndecodable, ClassFragment:
			default:
				t.Fatalf("unknown class")
			}
		}
		src.Close()
		// Two 256 KiB bufio readers, pcapgo's own buffers and a packet
		// buffer of at most 256 KiB, plus what the input holds.
		if got, limit := heapAllocs()-before, uint64(4<<20)+uint64(16*len(data)); !src.Gzip() && got > limit {
			t.Fatalf("allocated %d bytes for %d bytes of input (limit %d)", got, len(data), limit)
		}
	})
}
