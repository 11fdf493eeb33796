package defrag

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

func payloadOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

const tcp = 6

func key4(id uint32) Key {
	return Key{Src: [16]byte{198, 18, 0, 1}, Dst: [16]byte{192, 0, 2, 1}, ID: id, Proto: tcp}
}

func key6(id uint32) Key {
	return Key{Src: [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}, Dst: [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 2}, ID: id, V6: true}
}

// cut splits payload into the fragments of datagram k, n bytes each (a
// multiple of 8; the last holds the rest), as IP header decoding gives them:
// an IPv4 fragment names its protocol, an IPv6 one only at offset 0.
func cut(k Key, payload []byte, n int) []Fragment {
	var fs []Fragment
	for off := 0; off < len(payload); off += n {
		end := min(off+n, len(payload))
		fs = append(fs, Fragment{Key: k, Start: off, Length: end - off, More: end < len(payload),
			Payload: payload[off:end], Proto: tcp, HasProto: !k.V6 || off == 0})
	}
	return fs
}

// feed adds fragments at packet times t0+times[i] (t0 when times is nil),
// expiring first as a decoder does, and returns for each whether it
// completed its datagram, with a copy of the last datagram completed and
// how many of its bytes were missing.
func feed(d *Defragmenter, fs []Fragment, times []time.Duration) (done []bool, got []byte, missing int) {
	for i := range fs {
		ts := t0
		if times != nil {
			ts = t0.Add(times[i])
		}
		d.Expire(ts)
		p, m, proto, ok := d.Add(&fs[i], ts)
		done = append(done, ok)
		if ok {
			if proto != tcp {
				panic("protocol lost")
			}
			got, missing = bytes.Clone(p), m
		}
	}
	return done, got, missing
}

// last is n results of which only the last completed a datagram, when
// completed.
func last(n int, completed bool) []bool {
	r := make([]bool, n)
	r[n-1] = completed
	return r
}

func TestReassembles(t *testing.T) {
	pl := payloadOf(3000)
	orders := []struct {
		name string
		perm []int
	}{{"in order", []int{0, 1, 2}}, {"reversed", []int{2, 1, 0}}, {"middle first", []int{1, 0, 2}}}
	for _, k := range []Key{key4(77), key6(0xabcdef)} {
		for _, o := range orders {
			t.Run(map[bool]string{false: "v4 ", true: "v6 "}[k.V6]+o.name, func(t *testing.T) {
				f := cut(k, pl, 1176)
				var fs []Fragment
				for _, i := range o.perm {
					fs = append(fs, f[i])
				}
				d := New(Options{})
				done, got, missing := feed(d, fs, nil)
				if !slices.Equal(done, last(3, true)) || !bytes.Equal(got, pl) || missing != 0 {
					t.Fatalf("done %v, %d bytes, %d missing", done, len(got), missing)
				}
				if st := d.Stats(); st.Fragments != 3 || st.Datagrams != 1 || st.Pending != 0 || st.HeldBytes != 0 {
					t.Fatalf("stats %+v", st)
				}
			})
		}
	}
	// An atomic fragment (offset 0, no more fragments, RFC 6946) is whole
	// and is not held.
	d := New(Options{})
	done, got, _ := feed(d, cut(key6(1), pl, 4096), nil)
	if !done[0] || !bytes.Equal(got, pl) || d.Stats().Datagrams != 1 || d.Stats().Pending != 0 {
		t.Fatalf("atomic fragment: %v, stats %+v", done, d.Stats())
	}
}

func TestRules(t *testing.T) {
	pl := payloadOf(3000)
	t.Run("duplicate ignored", func(t *testing.T) {
		f := cut(key4(1), pl, 1176)
		d := New(Options{})
		done, got, _ := feed(d, []Fragment{f[0], f[1], f[1], f[0], f[2]}, nil)
		if !slices.Equal(done, last(5, true)) || !bytes.Equal(got, pl) {
			t.Fatalf("done %v", done)
		}
		if st := d.Stats(); st.Duplicates != 2 || st.Datagrams != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("overlap drops the datagram", func(t *testing.T) {
		f := cut(key4(2), pl, 1176)
		// A fragment covering bytes 8..1184 of the payload: overlaps two.
		o := f[1]
		o.Start = 8
		d := New(Options{})
		done, _, _ := feed(d, []Fragment{f[0], o, f[1], f[2]}, nil)
		if !slices.Equal(done, last(4, false)) {
			t.Fatalf("done %v", done)
		}
		// f[1] and f[2] started a new datagram that never completes.
		if st := d.Stats(); st.Overlapping != 1 || st.Datagrams != 0 || st.Pending != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("two ends", func(t *testing.T) {
		f := cut(key4(3), pl, 1176)
		short := f[1]
		short.More = false // the datagram would end at 2352
		d := New(Options{})
		done, _, _ := feed(d, []Fragment{f[2], short, f[0]}, nil)
		if !slices.Equal(done, last(3, false)) || d.Stats().Overlapping != 1 {
			t.Fatalf("done %v stats %+v", done, d.Stats())
		}
	})
	t.Run("tiny", func(t *testing.T) {
		// 4 bytes with more to come: no whole 8-byte unit.
		tiny := Fragment{Key: key4(5), Length: 4, More: true, Payload: pl[:4], Proto: tcp, HasProto: true}
		d := New(Options{})
		done, _, _ := feed(d, []Fragment{tiny}, nil)
		if done[0] || d.Stats().Invalid != 1 || d.Stats().Pending != 0 {
			t.Fatalf("done %v stats %+v", done, d.Stats())
		}
	})
}

func TestBounds(t *testing.T) {
	pl := payloadOf(3000)
	t.Run("timeout", func(t *testing.T) {
		f := cut(key4(1), pl, 1176)
		d := New(Options{})
		done, _, _ := feed(d, f, []time.Duration{0, 10 * time.Second, 31 * time.Second})
		// The datagram expired before its last fragment, which starts a
		// new one.
		if !slices.Equal(done, last(3, false)) {
			t.Fatalf("done %v", done)
		}
		if st := d.Stats(); st.Expired != 1 || st.Pending != 1 {
			t.Fatalf("stats %+v", st)
		}
		done, _, _ = feed(d, f[:1], []time.Duration{62 * time.Second})
		if st := d.Stats(); st.Expired != 2 || st.Pending != 1 || done[0] {
			t.Fatalf("stats %+v", st)
		}
		// Within the timeout it works.
		done, _, _ = feed(d, f[1:], []time.Duration{70 * time.Second, 80 * time.Second})
		if !done[1] {
			t.Fatalf("done %v", done)
		}
	})
	t.Run("datagrams", func(t *testing.T) {
		d := New(Options{MaxDatagrams: 2})
		var fs [][]Fragment
		for id := range uint32(3) {
			fs = append(fs, cut(key4(id), pl, 1176))
		}
		// First fragments of 0, 1, 2: 0 is evicted; then 1 and 2 complete,
		// and 0's late fragments start it again, never to complete.
		done, _, _ := feed(d, []Fragment{fs[0][0], fs[1][0], fs[2][0], fs[1][1], fs[1][2], fs[2][1], fs[2][2], fs[0][1], fs[0][2]}, nil)
		want := []bool{false, false, false, false, true, false, true, false, false}
		if !slices.Equal(done, want) {
			t.Fatalf("done %v", done)
		}
		if st := d.Stats(); st.Datagrams != 2 || st.Evicted != 1 || st.Pending != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		d := New(Options{MaxBytes: 128 << 10})
		big := payloadOf(60000)
		var firsts []Fragment
		for id := range uint32(4) {
			f := cut(key4(id), big, 1456)
			firsts = append(firsts, f[:len(f)-1]...) // all but the last
		}
		feed(d, firsts, nil)
		st := d.Stats()
		if st.PeakBytes > 128<<10 || st.HeldBytes > 128<<10 || st.Evicted == 0 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("fragments", func(t *testing.T) {
		d := New(Options{MaxFragments: 4})
		f := cut(key4(1), pl, 480)
		done, _, _ := feed(d, f, nil)
		if done[len(done)-1] || d.Stats().TooMany != 1 {
			t.Fatalf("done %v stats %+v", done, d.Stats())
		}
	})
	t.Run("snaplen", func(t *testing.T) {
		f := cut(key4(1), pl, 1176)
		f[1].Payload = f[1].Payload[:500] // the middle fragment cut after 500 bytes
		d := New(Options{})
		done, got, missing := feed(d, f, nil)
		if !done[2] || !bytes.Equal(got, pl[:1176+500]) || missing != 3000-(1176+500) || d.Stats().CutBytes != int64(missing) {
			t.Fatalf("done %v, %d bytes, %d missing", done, len(got), missing)
		}
	})
}

// TestAllocs: once warm, reassembling datagrams allocates nothing.
func TestAllocs(t *testing.T) {
	pl := payloadOf(3000)
	f4, f6 := cut(key4(1), pl, 1176), cut(key6(5), pl, 1176)
	d := New(Options{})
	run := func() {
		for _, fs := range [][]Fragment{f4, f6} {
			for i := range fs {
				d.Expire(t0)
				if _, _, _, done := d.Add(&fs[i], t0); done != (i == len(fs)-1) {
					t.Fatalf("fragment %d: done %v", i, done)
				}
			}
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Fatalf("%.1f allocations per round", n)
	}
}

func BenchmarkAdd(b *testing.B) {
	pl := payloadOf(3000)
	f := cut(key4(1), pl, 1456)
	d := New(Options{})
	b.SetBytes(int64(len(pl)))
	b.ReportAllocs()
	for b.Loop() {
		for i := range f {
			d.Add(&f[i], t0)
		}
	}
}

// FuzzDefrag feeds fragments of random offsets, lengths, flags and Ids,
// IPv4 and IPv6, read from the input: reassembly never panics, never
// returns more than 64 KiB, and never holds more than its caps.
func FuzzDefrag(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 10, 0, 1, 0, 1, 10, 1, 2, 1, 0, 4})
	f.Add([]byte{1, 0, 0, 1, 200, 1, 0, 0, 0, 8, 1, 0, 0, 25, 8})
	body := payloadOf(4020) // a TCP header and 4000 payload bytes
	f.Fuzz(func(t *testing.T, in []byte) {
		d := New(Options{MaxBytes: 128 << 10, MaxDatagrams: 4, MaxFragments: 8})
		for len(in) >= 5 {
			v6, id, off, n, more := in[0]&1 == 1, uint32(in[1]&3), int(in[2])*64, int(in[3])*16+int(in[4]&15), in[4]&16 != 0
			in = in[5:]
			lo, hi := min(off, len(body)), min(off+n, len(body))
			k := key4(id)
			if v6 {
				k = key6(id)
			}
			fr := Fragment{Key: k, Start: off, Length: hi - lo, More: more, Payload: body[lo:hi], Proto: tcp, HasProto: true}
			if p, _, _, done := d.Add(&fr, t0); done && len(p) > 65535 {
				t.Fatalf("payload of %d bytes", len(p))
			}
			if st := d.Stats(); st.HeldBytes > 128<<10 || st.Pending > 4 {
				t.Fatalf("stats %+v", st)
			}
		}
	})
}
