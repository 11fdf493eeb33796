package output

import (
	"cmp"

	"github.com/wscap/wscap/dissect"
)

// Tee writes every record to two writers (the output and a sink, or the
// table and the stats that follow it). Its encoder runs both encoders on
// each event; a record carries both halves, A's bytes first, and is a
// record when either half is. It finishes and closes A, then B.
type Tee struct {
	A, B Writer
	rec  Encoded // the half being written
}

// teeRecord is the value of a Tee's record: where A's bytes end, and
// each half's value.
type teeRecord struct {
	n        int // A's bytes are Bytes[:n], B's the rest
	a, b     any
	aok, bok bool
}

// Encoder returns an encoder that runs A's and B's.
func (t *Tee) Encoder() Encoder { return &teeEncoder{a: t.A.Encoder(), b: t.B.Encoder()} }

type teeEncoder struct{ a, b Encoder }

func (t *teeEncoder) Encode(dst []byte, ev *dissect.Event) ([]byte, any, bool) {
	start := len(dst)
	a, av, aok := t.a.Encode(dst, ev)
	if !aok {
		a = dst
	}
	b, bv, bok := t.b.Encode(a, ev)
	if !bok {
		b = a
	}
	if !aok && !bok {
		return dst, nil, false
	}
	return b, &teeRecord{n: len(a) - start, a: av, b: bv, aok: aok, bok: bok}, true
}

// WriteRecord writes each half to its writer.
func (t *Tee) WriteRecord(r *Encoded) error {
	tr := r.Value.(*teeRecord)
	if tr.aok {
		t.rec = Encoded{Kind: r.Kind, Conn: r.Conn, Bytes: r.Bytes[:tr.n], Value: tr.a}
		if err := t.A.WriteRecord(&t.rec); err != nil {
			return err
		}
	}
	if tr.bok {
		t.rec = Encoded{Kind: r.Kind, Conn: r.Conn, Bytes: r.Bytes[tr.n:], Value: tr.b}
		return t.B.WriteRecord(&t.rec)
	}
	return nil
}

// Finish finishes A, then B.
func (t *Tee) Finish(tot *Totals) {
	t.A.Finish(tot)
	t.B.Finish(tot)
}

// Flush flushes both writers that can be (pipeline.Options.FlushWriter).
func (t *Tee) Flush() error {
	var err error
	for _, w := range []Writer{t.A, t.B} {
		if f, ok := w.(interface{ Flush() error }); ok {
			err = cmp.Or(err, f.Flush())
		}
	}
	return err
}

// Close closes A, then B: a writer that prints only when it closes (the
// stats table) may share A's output.
func (t *Tee) Close() error {
	if err := t.A.Close(); err != nil {
		return err
	}
	return t.B.Close()
}
