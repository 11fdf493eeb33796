package gen

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
)

// streamOf concatenates the payload of d's segments in sequence order,
// with '?' for bytes no segment carries, from the first byte of step.
func streamOf(t *testing.T, segs []Segment, d Direction, base uint32, n int) []byte {
	t.Helper()
	out := bytes.Repeat([]byte{'?'}, n)
	for _, s := range segs {
		if s.Dir != d {
			continue
		}
		for i, b := range s.Payload {
			if off := int(int32(s.Seq + uint32(i) - base)); off >= 0 && off < n {
				out[off] = b
			}
		}
	}
	return out
}

// TestStepTransforms checks DropStepBytes, Retransmit, Reorder and
// StepSegment on the segments of a real connection, across a sequence
// number wraparound.
func TestStepTransforms(t *testing.T) {
	msg := bytes.Repeat([]byte("0123456789"), 500) // 5000 bytes: 4-byte header
	var in, out []Segment
	run := func(tr Transform) {
		c := New(Options{Seed: 1})
		conn := c.Conn(ConnOptions{FixISN: true, ClientISN: 1, ServerISN: 0xffffffff - 3000, Transform: func(info ConnInfo, segs []Segment) []Segment {
			in = append([]Segment(nil), segs...)
			res := tr(info, segs)
			out = append([]Segment(nil), res...) // the engine clears res once queued
			return res
		}})
		conn.Handshake(Handshake{})
		conn.Send(FromServer, Message{Opcode: OpBinary, Payload: msg}) // step 1
		conn.Teardown()
		var buf bytes.Buffer
		if _, err := c.Write(&buf); err != nil {
			t.Fatal(err)
		}
	}
	wire, _ := AppendFrame(nil, Frame{Fin: true, Opcode: OpBinary, Payload: msg})
	run(DropStepBytes(1, FromServer, 100, 3000))
	seq, n, ok := stepBytes(in, 1, FromServer)
	if !ok || n != len(wire) {
		t.Fatalf("step bytes %d %v", n, ok)
	}
	want := append(append(append([]byte{}, wire[:100]...), bytes.Repeat([]byte{'?'}, 2900)...), wire[3000:]...)
	if got := streamOf(t, out, FromServer, seq, n); !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("drop: stream differs at %d: %q want %q", i, got[i:min(i+20, n)], want[i:min(i+20, n)])
			}
		}
	}
	if len(out) != len(in)-1 { // the second of four segments is gone, the first and third cut
		t.Fatalf("drop: %d segments from %d", len(out), len(in))
	}

	run(Retransmit(1, FromServer, 1000, 2000, time.Microsecond, func(b []byte) { b[0] = '!' }))
	if len(out) != len(in)+1 {
		t.Fatalf("retransmit: %d segments", len(out))
	}
	var r *Segment
	for i := range out {
		if out[i].Seq == seq+1000 && len(out[i].Payload) == 1000 {
			r = &out[i]
		}
	}
	if r == nil || r.Payload[0] != '!' || !bytes.Equal(r.Payload[1:], wire[1001:2000]) || !bytes.Equal(streamOf(t, in, FromServer, seq, n), wire) {
		t.Fatalf("retransmit: %v", r)
	}

	run(func(info ConnInfo, segs []Segment) []Segment {
		return Reorder(StepSegment(segs, 1, FromServer, 0), StepSegment(segs, 1, FromServer, 2))(info, segs)
	})
	if i := StepSegment(out, 1, FromServer, 2); out[i].Seq != seq || !out[i].Time.Equal(in[StepSegment(in, 1, FromServer, 2)].Time) {
		t.Fatalf("reorder: segment %d seq %d", i, out[i].Seq)
	}
}

// TestFragmentIP: fragments carry the original payload at their offsets,
// with valid IPv4 header checksums and IPv6 Fragment headers, and the
// manifest counts every packet written.
func TestFragmentIP(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		var seen [][]byte
		frag := FragmentIP(600, nil)
		c := New(Options{Seed: 1, Link: LinkRaw})
		conn := c.Conn(ConnOptions{IPv6: v6, IPTransform: func(info ConnInfo, seg *Segment, ip []byte) [][]byte {
			pkts := frag(info, seg, ip)
			if len(seg.Payload) == 1400 {
				seen = append(append(seen, ip), pkts...)
			}
			return pkts
		}})
		conn.Handshake(Handshake{})
		conn.Send(FromServer, Message{Opcode: OpBinary, Size: 1396})
		conn.Teardown()
		var buf bytes.Buffer
		m, err := c.Write(&buf)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		records := 0
		for {
			if _, _, err := r.ReadPacketData(); err != nil {
				break
			}
			records++
		}
		if int64(records) != m.Packets || len(seen) != 4 {
			t.Fatalf("v6 %v: %d packets, manifest %d, %d seen", v6, records, m.Packets, len(seen))
		}
		orig, frags := seen[0], seen[1:]
		hdr := 20
		if v6 {
			hdr = 40
		}
		var got []byte
		for i, f := range frags {
			var off int
			var more bool
			body := f[hdr:]
			if v6 {
				if f[6] != 44 || body[0] != 6 || binary.BigEndian.Uint32(body[4:]) == 0 {
					t.Fatalf("fragment header %x", body[:8])
				}
				fo := binary.BigEndian.Uint16(body[2:])
				off, more, body = int(fo>>3)*8, fo&1 != 0, body[8:]
			} else {
				if ipChecksum(f[:20]) != 0 {
					t.Fatalf("fragment %d: bad checksum", i)
				}
				fo := binary.BigEndian.Uint16(f[6:])
				off, more = int(fo&0x1fff)*8, fo&0x2000 != 0
			}
			if off != len(got) || more != (i < len(frags)-1) || len(body) > 600 {
				t.Fatalf("fragment %d: offset %d more %v len %d", i, off, more, len(body))
			}
			got = append(got, body...)
		}
		if !bytes.Equal(got, orig[hdr:]) {
			t.Fatalf("v6 %v: fragments do not add up to the packet", v6)
		}
	}
}
