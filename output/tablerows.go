package output

import (
	"bufio"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"slices"
)

// spillRows is how many bytes of rows the stats table keeps in memory
// before it writes them, sorted, to a temporary file: a capture of a
// million connections would otherwise hold a hundred megabytes of rows
// until the end, more than its open connections.
const spillRows = 4 << 20

// rowBytes is what a kept row counts against spillRows: its text and its
// statsLine.
func rowBytes(l statsLine) int { return len(l.cells) + 32 }

// tableRows are the stats table's rows until it is printed, in memory up
// to limit bytes and past that in sorted runs in a temporary file (deleted
// as soon as it is made, where the system allows), merged by connection
// number at the end. Once the file cannot be made or written, the rows
// from then on stay in memory (the runs written before are still read).
type tableRows struct {
	limit   int
	mem     []statsLine
	bytes   int // of mem, by rowBytes
	f       *os.File
	name    string // the file's name while it could not be deleted
	w       *bufio.Writer
	size    int64   // bytes written to f
	runs    []int64 // where each run in f starts
	err     error   // the file failed: rows stay in memory from then on
	n       int     // rows added
	spilled int     // rows written to the file, in whole runs
	max     int     // the largest connection number
}

func (t *tableRows) add(l statsLine) {
	t.mem = append(t.mem, l)
	t.bytes += rowBytes(l)
	t.n++
	t.max = max(t.max, l.conn)
	if t.bytes >= t.limit && t.limit > 0 && t.err == nil {
		t.err = t.spill()
	}
}

// spill writes the rows in memory to the file as one sorted run.
func (t *tableRows) spill() error {
	if t.f == nil {
		f, err := os.CreateTemp("", "wscap-stats-*")
		if err != nil {
			return err
		}
		t.f = f
		if os.Remove(f.Name()) != nil {
			t.name = f.Name()
		}
		t.w = bufio.NewWriterSize(f, 64<<10)
	}
	sortLines(t.mem)
	at := t.size
	var b [2 * binary.MaxVarintLen64]byte
	for _, l := range t.mem {
		n := binary.PutUvarint(b[:], uint64(l.conn))
		n += binary.PutUvarint(b[n:], uint64(len(l.cells)))
		t.w.Write(b[:n])
		t.w.WriteString(string(l.cells))
		at += int64(n + len(l.cells))
	}
	// A run that was not written whole is not one: its rows stay in
	// memory, and whatever of it reached the file is never read.
	if err := t.w.Flush(); err != nil {
		return err
	}
	t.runs = append(t.runs, t.size)
	t.size = at
	t.spilled += len(t.mem)
	clear(t.mem)
	t.mem, t.bytes = t.mem[:0], 0
	return nil
}

func sortLines(ls []statsLine) {
	slices.SortFunc(ls, func(a, b statsLine) int { return cmp.Compare(a.conn, b.conn) })
}

// close deletes the file, if any.
func (t *tableRows) close() {
	if t.f != nil {
		t.f.Close()
		if t.name != "" {
			os.Remove(t.name)
		}
	}
	t.f, t.w, t.name, t.runs, t.size = nil, nil, "", nil, 0
}

// each calls f with the rows by connection number, then forgets them.
func (t *tableRows) each(f func(statsLine) error) error {
	defer func() {
		t.close()
		t.mem, t.bytes = nil, 0
	}()
	sortLines(t.mem)
	m := make(runMerge, 0, len(t.runs)+1)
	for i, at := range t.runs {
		end := t.size
		if i+1 < len(t.runs) {
			end = t.runs[i+1]
		}
		src := &fileRun{r: bufio.NewReaderSize(io.NewSectionReader(t.f, at, end-at), 16<<10)}
		if err := m.push(src); err != nil {
			return err
		}
	}
	m.push(&memRun{ls: t.mem})
	for len(m) > 0 {
		if err := f(m[0].head); err != nil {
			return err
		}
		if err := m.advance(); err != nil {
			return err
		}
	}
	return nil
}

// A rowRun is one sorted source of rows for the merge.
type rowRun interface {
	next() (statsLine, bool, error)
}

type memRun struct{ ls []statsLine }

func (r *memRun) next() (statsLine, bool, error) {
	if len(r.ls) == 0 {
		return statsLine{}, false, nil
	}
	l := r.ls[0]
	r.ls = r.ls[1:]
	return l, true, nil
}

// fileRun reads a run back from the file, each row's text through buf
// (the conversion to statsCells copies it).
type fileRun struct {
	r   *bufio.Reader
	buf []byte
}

func (r *fileRun) next() (statsLine, bool, error) {
	conn, err := binary.ReadUvarint(r.r)
	if err == io.EOF {
		return statsLine{}, false, nil
	}
	if err != nil {
		return statsLine{}, false, err
	}
	n, err := binary.ReadUvarint(r.r)
	if err != nil || n > 1<<24 { // a row is far shorter: the file is damaged
		return statsLine{}, false, io.ErrUnexpectedEOF
	}
	if n > uint64(cap(r.buf)) {
		r.buf = make([]byte, n)
	}
	r.buf = r.buf[:n]
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		return statsLine{}, false, io.ErrUnexpectedEOF
	}
	return statsLine{int(conn), statsCells(r.buf)}, true, nil
}

// runMerge is a min-heap of runs by their head row's connection number.
type runMerge []runHead

type runHead struct {
	head statsLine
	src  rowRun
}

func (m runMerge) Len() int           { return len(m) }
func (m runMerge) Less(i, j int) bool { return m[i].head.conn < m[j].head.conn }
func (m runMerge) Swap(i, j int)      { m[i], m[j] = m[j], m[i] }
func (m *runMerge) Push(x any)        { *m = append(*m, x.(runHead)) }
func (m *runMerge) Pop() any {
	old := *m
	x := old[len(old)-1]
	*m = old[:len(old)-1]
	return x
}

// push adds src at its first row (none: src is left out).
func (m *runMerge) push(src rowRun) error {
	l, ok, err := src.next()
	if err != nil {
		return readBackErr(err)
	}
	if ok {
		heap.Push(m, runHead{l, src})
	}
	return nil
}

func readBackErr(err error) error {
	return errors.New("stats: reading back the table's rows from their temporary file: " + err.Error())
}

// advance replaces the smallest head by its run's next row.
func (m *runMerge) advance() error {
	l, ok, err := (*m)[0].src.next()
	if err != nil {
		return readBackErr(err)
	}
	if !ok {
		heap.Pop(m)
		return nil
	}
	(*m)[0].head = l
	heap.Fix(m, 0)
	return nil
}
