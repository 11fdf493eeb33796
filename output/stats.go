package output

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/wscap/wscap/dissect"
)

// Stats summarises connections: one row per WebSocket connection and a
// totals row, as a table or as JSON Lines. It takes the records of its own
// Encoder, each a finished row and the numbers the totals need, and keeps
// only the totals.
//
// The table is printed at the end, rows by connection number, each column
// as wide as its widest cell (numbers are never cut; text columns have a
// cap), and fitted to Width when set: the columns that matter least go
// first (see statsCols), then the text columns narrow.
type Stats struct {
	w     io.Writer
	jsonl bool
	// Width is the terminal's width in columns; 0 fits nothing.
	Width   int
	rows    tableRows         // the table's rows, until Close
	widest  [statsColumns]int // the widest cell of each column, in display columns
	total   statsRow
	Extra   []string // lines printed after the table (packet counters)
	Packets any      // packet counters for the JSON totals object
	// Totals, when set, is the run's totals record (read's, the same
	// schema): JSON Lines output ends with it, the aggregate of the
	// connections added as "summary".
	Totals any
	// MultiFile adds "file" to the JSON Lines records (several inputs).
	MultiFile bool
	// Span, when set, is the totals' duration: the capture's span (the
	// connections' durations overlap; their sum says nothing).
	Span *time.Duration
}

// NewStats returns a Stats writer; jsonl selects JSON Lines.
func NewStats(w io.Writer, jsonl bool) *Stats {
	return &Stats{w: w, jsonl: jsonl, rows: tableRows{limit: spillRows}}
}

// Encoder returns the encoder whose records WriteRecord takes: a shard
// turns each connection record into its finished row (and the numbers the
// totals need), so that the writer only adds and prints.
func (s *Stats) Encoder() Encoder {
	return &statsEncoder{jsonl: s.jsonl, jl: JSONLEncoder{MultiFile: s.MultiFile}}
}

type statsEncoder struct {
	jsonl bool
	jl    JSONLEncoder // JSON Lines: the connection record, as read writes it
	w     rowWriter
}

// statsRecord is the value of a stats record: the connection's row, the
// totals' inputs, and for the table its cells after CONN (the writer adds
// that one, which only it knows), rendered on the shard.
type statsRecord struct {
	row    statsRow
	cells  statsCells
	widths [statsColumns - 1]uint16 // of the cells, in display columns
}

// Encode makes a connection record's row. For JSON Lines the record's
// bytes are the connection record as read writes it (one record kind, one
// schema).
func (e *statsEncoder) Encode(dst []byte, ev *dissect.Event) ([]byte, any, bool) {
	if ev.Kind != dissect.KindConnection {
		return dst, nil, false
	}
	r := &statsRecord{row: rowNums(ev)}
	if e.jsonl {
		return e.jl.AppendRecord(dst, ev), r, true
	}
	e.w.reset()
	e.w.cells(ev, &r.row)
	r.cells = e.w.done(&r.widths)
	return dst, r, true
}

// rowNums returns the numbers of a connection record's row.
func rowNums(ev *dissect.Event) statsRow {
	sum := ev.Summary
	cl, sv := &sum.Client, &sum.Server
	row := statsRow{Duration: sum.Duration.Seconds(),
		ClientMessages: cl.Messages, ServerMessages: sv.Messages, ClientBytes: cl.Bytes, ServerBytes: sv.Bytes,
		Compressed: cl.Compressed + sv.Compressed, Largest: max(cl.Largest, sv.Largest),
		Errors: int(sum.Findings[dissect.SeverityError]), Warnings: int(sum.Findings[dissect.SeverityWarning]), Infos: int(sum.Findings[dissect.SeverityInfo])}
	for op := range row.types {
		row.types[op] = int64(cl.ByOpcode[op]) + int64(sv.ByOpcode[op])
	}
	if row.Compressed > 0 && cl.WireBytes+sv.WireBytes > 0 {
		row.Ratio = float64(cl.Bytes+sv.Bytes) / float64(cl.WireBytes+sv.WireBytes)
	}
	if r := &sum.RTT; r.Count > 0 {
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		row.RTTCount, row.RTTMin, row.RTTMedian, row.RTTMax = r.Count, ms(r.Min), ms(r.Median()), ms(r.Max)
	}
	return row
}

// totalsInputs returns r as the totals add it: the duration to the
// nanosecond, RTTs to the nanosecond of a millisecond (the figures the
// totals have always shown).
func totalsInputs(r statsRow) statsRow {
	r.Duration = float64(int64(r.Duration*1e9)) / 1e9
	r.RTTMin, r.RTTMax = float64(int64(r.RTTMin*1e6))/1e6, float64(int64(r.RTTMax*1e6))/1e6
	return r
}

func appendExtensionList(b []byte, exts []dissect.Extension) []byte {
	for i, x := range exts {
		if i > 0 {
			b = append(b, ", "...)
		}
		b, _ = x.AppendText(b)
	}
	return b
}

func handshakeText(h *dissect.Handshake) string {
	switch {
	case !h.Captured:
		return "not captured"
	case h.Status == 0:
		return "no response"
	case !h.Accepted():
		return "rejected " + strconv.Itoa(h.Status)
	case h.H2 != nil:
		return "h2 ok"
	case h.AcceptValid:
		return "ok"
	case h.AcceptUnchecked:
		return "101, cut"
	}
	return "ACCEPT INVALID"
}

// durationText writes d for the DURATION column (8 wide): to the
// millisecond under a minute, then to a tenth of a second, from an hour on
// to the second ("59.999s", "59m59.9s", "66h21m7s").
func durationText(d time.Duration) string {
	switch {
	case d < time.Minute:
		d = d.Round(time.Millisecond)
	case d < time.Hour:
		d = d.Round(100 * time.Millisecond)
	default:
		d = d.Round(time.Second)
	}
	return d.String()
}

// appendCloseCodes appends "client 1000, server 1000": the close codes sent.
func appendCloseCodes(b []byte, sum *dissect.Summary) []byte {
	if c := sum.Client.CloseCode; c != 0 {
		b = strconv.AppendInt(append(b, "client "...), int64(c), 10)
	}
	if c := sum.Server.CloseCode; c != 0 {
		if sum.Client.CloseCode != 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(append(b, "server "...), int64(c), 10)
	}
	return b
}

// statsRow is one connection's row (its JSON object), or the totals.
type statsRow struct {
	Kind        string  `json:"kind,omitempty"` // totals only
	Client      string  `json:"client,omitempty"`
	Server      string  `json:"server,omitempty"`
	Host        string  `json:"host,omitempty"`
	Path        string  `json:"path,omitempty"`
	Subprotocol string  `json:"subprotocol,omitempty"`
	Extensions  string  `json:"extensions,omitempty"`
	Handshake   string  `json:"handshake"`
	Duration    float64 `json:"duration"`
	End         string  `json:"end,omitempty"`

	Connections int64 `json:"connections,omitempty"` // totals only

	ClientMessages int64  `json:"client_messages"`
	ServerMessages int64  `json:"server_messages"`
	ClientBytes    int64  `json:"client_bytes"`
	ServerBytes    int64  `json:"server_bytes"`
	Types          string `json:"types"`
	types          [16]int64
	WireCompressed int64   `json:"-"`
	Compressed     int64   `json:"compressed_messages"`
	Ratio          float64 `json:"compression_ratio,omitempty"`
	Largest        int64   `json:"largest"`
	RTTCount       int64   `json:"rtt_count,omitempty"`
	RTTMin         float64 `json:"rtt_min_ms,omitempty"`
	RTTMedian      float64 `json:"rtt_median_ms,omitempty"`
	RTTMax         float64 `json:"rtt_max_ms,omitempty"`
	ClosedBy       string  `json:"closed_by,omitempty"`
	CloseCodes     string  `json:"close_codes,omitempty"`
	Errors         int     `json:"errors"`
	Warnings       int     `json:"warnings"`
	Infos          int     `json:"infos"`
}

// WriteRecord takes one row encoded by the Stats encoder.
func (s *Stats) WriteRecord(r *Encoded) error {
	rec, ok := r.Value.(*statsRecord)
	if r.Kind != dissect.KindConnection || !ok {
		return nil
	}
	row := totalsInputs(rec.row)
	s.add(&row)
	if s.jsonl {
		if _, err := fmt.Fprintf(s.w, `{"kind":"connection","conn":%d`, r.Conn); err != nil {
			return err
		}
		_, err := s.w.Write(r.Bytes)
		return err
	}
	// The row, as the shard rendered its cells, waits for the end; the
	// table's widths grow as the rows come.
	s.rows.add(statsLine{r.Conn, rec.cells})
	for i, n := range rec.widths {
		s.widest[i+1] = max(s.widest[i+1], int(n))
	}
	return nil
}

// widen makes the table's columns as wide as the cells c.
func (s *Stats) widen(c *[statsColumns]string) {
	for i, v := range c {
		s.widest[i] = max(s.widest[i], visibleWidth(v))
	}
}

// statsLine is one row of the table: the connection number and the cells
// after it.
type statsLine struct {
	conn  int
	cells statsCells
}

// statsCells are the cells of a row after CONN, in one string: the
// cells' lengths as uvarints, then the cells. A table keeps a row per
// connection until the end, so a row is kept as small as it renders
// (24 bytes and its text, as a string of the cells alone would be).
type statsCells string

// statsCols are the table's columns, in order. A text column is at most
// max wide, and narrows down to min on a narrow terminal; drop ranks the
// columns for one: the highest goes first, 0 never.
var statsCols = []struct {
	name     string
	num      bool // right-aligned, never cut
	min, max int  // of a text column
	drop     int
}{
	{"CONN", true, 0, 0, 0},
	{"CLIENT → SERVER", false, 31, 47, 0},
	{"HOST/PATH", false, 16, 40, 0},
	{"PROTOCOL/EXT", false, 12, 40, 10},
	{"HANDSHAKE", false, 9, 16, 7},
	{"DURATION", true, 0, 0, 4},
	{"MSGS C/S", true, 0, 0, 0},
	{"BYTES C/S", true, 0, 0, 0},
	{"TYPES", false, 14, 44, 9},
	{"Z RATIO", true, 0, 0, 12},
	{"LARGEST", true, 0, 0, 11},
	{"RTT MIN/MED/MAX ms", true, 0, 0, 8},
	{"CLOSE", false, 12, 38, 5}, // "server first; client 4999, server 4999"
	{"FINDINGS E/W/I", true, 0, 0, 3},
}

// statsLayout returns the columns to show (indexes into statsCols) and
// their widths, for rows whose widest cells are widest (display columns,
// by column) and a terminal of width columns (0: no limit). Columns are as
// wide as their widest cell or header (text up to its max); on a
// terminal, columns are dropped by rank until the rest fit with text at
// its min, then the widest text narrows until the table fits.
func statsLayout(widest *[statsColumns]int, width int) (show, widths []int) {
	w := make([]int, len(statsCols))
	for i, c := range statsCols {
		w[i] = max(visibleWidth(c.name), widest[i])
	}
	floor := make([]int, len(w)) // the narrowest each may get
	for i, c := range statsCols {
		floor[i] = w[i]
		if !c.num {
			w[i] = min(w[i], c.max)
			floor[i] = min(w[i], c.min)
		}
	}
	on := make([]bool, len(statsCols))
	for i := range on {
		on[i] = true
	}
	total := func(w []int) int {
		t := 1
		for i, o := range on {
			if o {
				t += w[i] + 3
			}
		}
		return t
	}
	for width > 0 && total(floor) > width {
		worst := -1
		for i, c := range statsCols {
			if on[i] && c.drop > 0 && (worst < 0 || c.drop > statsCols[worst].drop) {
				worst = i
			}
		}
		if worst < 0 {
			break
		}
		on[worst] = false
	}
	for width > 0 && total(w) > width {
		// Narrow the widest text column still above its floor (the
		// headers' width at most: then down to 10).
		widest := -1
		for i, c := range statsCols {
			if on[i] && !c.num && w[i] > min(floor[i], 10) && (widest < 0 || w[i]-floor[i] > w[widest]-floor[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		w[widest]--
	}
	for i, o := range on {
		if o {
			show = append(show, i)
			widths = append(widths, w[i])
		}
	}
	return show, widths
}

// statsColumns is the number of columns of the stats table.
const statsColumns = 14

// splitCells fills c with first and the cells after it.
func splitCells(c *[statsColumns]string, first string, cells statsCells) {
	c[0] = first
	var lens [statsColumns - 1]int
	at := 0
	for i := range lens {
		for shift := 0; ; shift += 7 {
			b := cells[at]
			at++
			lens[i] |= int(b&0x7f) << shift
			if b < 0x80 {
				break
			}
		}
	}
	for i, n := range lens {
		c[i+1] = string(cells[at : at+n])
		at += n
	}
}

// writeTable prints the table: rows by connection number, then totals.
func (s *Stats) writeTable(totals statsCells) error {
	var c [statsColumns]string
	splitCells(&c, "total", totals)
	s.widen(&c)
	if s.rows.n > 0 {
		s.widest[0] = max(s.widest[0], len(strconv.Itoa(s.rows.max)))
	}
	show, widths := statsLayout(&s.widest, s.Width)
	bw := bufio.NewWriterSize(s.w, 64<<10)
	g := newGrid(bw, widths)
	cells := make([]string, len(show))
	for j, i := range show {
		cells[j] = statsCols[i].name
	}
	g.line()
	g.row(cells)
	g.line()
	g.right = make([]bool, len(show))
	for j, i := range show {
		g.right[j] = statsCols[i].num
	}
	var all [statsColumns]string
	row := func() error {
		for j, i := range show {
			cells[j] = all[i]
		}
		return g.row(cells)
	}
	var num []byte
	err := s.rows.each(func(l statsLine) error {
		num = strconv.AppendInt(num[:0], int64(l.conn), 10)
		splitCells(&all, string(num), l.cells)
		return row()
	})
	if err != nil {
		return err
	}
	splitCells(&all, "total", totals)
	if err := row(); err != nil {
		return err
	}
	g.line()
	for _, l := range s.Extra {
		fmt.Fprintln(bw, l)
	}
	return bw.Flush()
}

func (s *Stats) add(r *statsRow) {
	t := &s.total
	t.Connections++
	t.Duration += r.Duration
	t.ClientMessages += r.ClientMessages
	t.ServerMessages += r.ServerMessages
	t.ClientBytes += r.ClientBytes
	t.ServerBytes += r.ServerBytes
	t.Compressed += r.Compressed
	t.Largest = max(t.Largest, r.Largest)
	for i, n := range r.types {
		t.types[i] += n
	}
	if r.RTTCount > 0 {
		if t.RTTCount == 0 || r.RTTMin < t.RTTMin {
			t.RTTMin = r.RTTMin
		}
		t.RTTMax = max(t.RTTMax, r.RTTMax)
		t.RTTCount += r.RTTCount
	}
	t.Errors += r.Errors
	t.Warnings += r.Warnings
	t.Infos += r.Infos
}

func typesString(t *[16]int64) string {
	var buf [128]byte
	return string(appendTypes(buf[:0], t))
}

// appendTypes appends the message counts by type: "text:3 close:2".
func appendTypes(b []byte, t *[16]int64) []byte {
	start := len(b)
	for op, n := range t {
		if n > 0 {
			if len(b) > start {
				b = append(b, ' ')
			}
			b = append(b, dissect.Opcode(op).String()...)
			b = append(b, ':')
			b = strconv.AppendInt(b, n, 10)
		}
	}
	return b
}

// appendPair appends "a/b".
func appendPair(dst []byte, a, b int64) []byte {
	return strconv.AppendInt(append(strconv.AppendInt(dst, a, 10), '/'), b, 10)
}

// Finish takes the run's totals: its record ends JSON Lines output, its
// span is the totals row's duration, its lines follow the table.
func (s *Stats) Finish(t *Totals) {
	s.Span = &t.Span
	s.Totals = t.Record
	s.Extra = append(s.Extra, t.Lines...)
}

// Close writes the table (or the JSON totals object).
func (s *Stats) Close() error {
	t := &s.total
	t.Types = typesString(&t.types)
	if s.Span != nil {
		t.Duration = s.Span.Seconds()
	}
	t.Handshake = "totals"
	t.Kind = "totals"
	if s.jsonl {
		return s.writeTotals(t)
	}
	var w rowWriter
	w.cells(nil, t)
	return s.writeTable(w.done(nil))
}

// rowWriter makes a table row's cells after CONN (text escaped and cut at
// statsCellMax bytes) in one buffer, without building them first: `wscap
// stats` renders a row per connection on the shards.
type rowWriter struct {
	b       []byte
	col     int
	ends    [statsColumns - 1]int32
	scratch []byte
	out     []byte // done's
}

func (w *rowWriter) reset() { w.b, w.col = w.b[:0], 0 }

// done returns the cells written, and their display widths in widths
// when it is not nil.
func (w *rowWriter) done(widths *[statsColumns - 1]uint16) statsCells {
	out := w.out[:0]
	from := int32(0)
	for _, end := range w.ends {
		out = binary.AppendUvarint(out, uint64(end-from))
		from = end
	}
	w.out = append(out, w.b...)
	cells := statsCells(w.out)
	if widths != nil {
		text := string(cells[len(cells)-len(w.b):]) // after the lengths
		from = 0
		for i, end := range w.ends {
			widths[i] = uint16(min(visibleWidth(text[from:end]), math.MaxUint16))
			from = end
		}
	}
	return cells
}

// statsCellMax caps a text cell before the table's widths are known
// (statsCols' widest is less).
const statsCellMax = 64

func (w *rowWriter) close() {
	w.ends[w.col] = int32(len(w.b))
	w.col++
}

func (w *rowWriter) text(s string) {
	w.b = append(w.b, s...)
	w.close()
}

func (w *rowWriter) pair(a, b int64) {
	w.b = appendPair(w.b, a, b)
	w.close()
}

// cells appends the cells after CONN of a connection's row, or of the
// totals row when ev is nil, and ends the line.
func (w *rowWriter) cells(ev *dissect.Event, r *statsRow) {
	var h *dissect.Handshake
	if ev != nil {
		w.b = ev.Conn.Client.AppendTo(w.b) // addresses need no escaping
		w.b = append(w.b, " → "...)
		w.b = ev.Conn.Server.AppendTo(w.b)
		w.close()
		// Cells are cut at their width: no need to escape more.
		if h = ev.Summary.Handshake; h != nil {
			w.b = appendSafeText(w.b, h.Host, statsCellMax)
			w.b = appendSafeText(w.b, h.Path, statsCellMax)
		}
		w.close()
		if h != nil {
			t := append(w.scratch[:0], h.Subprotocol...)
			if len(h.Extensions) > 0 {
				t = appendExtensionList(append(t, ' '), h.Extensions)
			}
			if a := ev.Summary.App; a != nil {
				t = append(append(t, " ["...), a.Protocol...)
				for i, nc := range a.Top {
					if i == 3 {
						break
					}
					t = append(append(append(t, ' '), nc.Name...), " ×"...)
					t = strconv.AppendInt(t, nc.Count, 10)
				}
				if r := &a.Latency; r.Count > 0 {
					t = append(t, " latency "...)
					t = append(t, r.Median().Round(10*time.Microsecond).String()...)
				}
				t = append(t, ']')
			}
			w.b = appendSafeText(w.b, string(bytes.TrimSpace(t)), statsCellMax)
			w.scratch = t
		}
		w.close()
		hs := ""
		if h != nil {
			hs = handshakeText(h)
		}
		w.text(hs)
	} else {
		n := strconv.FormatInt(r.Connections, 10) + " connections"
		if r.Connections == 1 {
			n = "1 connection"
		}
		w.text(n)
		w.text("")
		w.text("")
		w.text("totals")
	}
	w.text(durationText(time.Duration(r.Duration * float64(time.Second))))
	w.pair(r.ClientMessages, r.ServerMessages)
	w.pair(r.ClientBytes, r.ServerBytes)
	w.b = appendTypes(w.b, &r.types)
	w.close()
	if r.Ratio > 0 {
		w.b = strconv.AppendFloat(w.b, r.Ratio, 'f', 2, 64)
	}
	w.close()
	w.b = strconv.AppendInt(w.b, r.Largest, 10)
	w.close()
	if r.RTTCount > 0 {
		w.b = append(strconv.AppendFloat(w.b, r.RTTMin, 'g', 3, 64), '/')
		if ev == nil {
			w.b = append(w.b, '-')
		} else {
			w.b = strconv.AppendFloat(w.b, r.RTTMedian, 'g', 3, 64)
		}
		w.b = strconv.AppendFloat(append(w.b, '/'), r.RTTMax, 'g', 3, 64)
	}
	w.close()
	if ev != nil {
		sum := ev.Summary
		if sum.ClosedFirst {
			w.b = append(append(w.b, sum.ClosedBy.String()...), " first"...)
			if sum.Client.CloseCode != 0 || sum.Server.CloseCode != 0 {
				w.b = append(w.b, "; "...)
			}
		}
		w.b = appendCloseCodes(w.b, sum)
	}
	w.close()
	w.b = appendPair(w.b, int64(r.Errors), int64(r.Warnings))
	w.b = strconv.AppendInt(append(w.b, '/'), int64(r.Infos), 10)
	w.close()
}

// writeTotals ends JSON Lines output: the run's totals record, with the
// connections' aggregate as "summary" (messages, bytes, types, RTT,
// findings; the connection count is the totals' websocket_connections).
func (s *Stats) writeTotals(t *statsRow) error {
	sum := *t
	sum.Kind, sum.Handshake, sum.Connections = "", "", 0
	sb, err := json.Marshal(struct {
		statsRow
		Handshake string `json:"handshake,omitempty"` // shadows the row's: not in the summary
	}{statsRow: sum})
	if err != nil {
		return err
	}
	var tb []byte
	if s.Totals != nil {
		if tb, err = json.Marshal(s.Totals); err != nil {
			return err
		}
	} else {
		tb, _ = json.Marshal(struct {
			Kind    string `json:"kind"`
			Packets any    `json:"packets,omitempty"`
		}{"totals", s.Packets})
	}
	line := append(tb[:len(tb)-1:len(tb)-1], `,"summary":`...)
	line = append(line, sb...)
	line = append(line, '}', '\n')
	_, err = s.w.Write(line)
	return err
}
