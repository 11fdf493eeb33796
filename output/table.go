package output

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/wscap/wscap/dissect"
)

// TableOptions configure a Table.
type TableOptions struct {
	Frames bool // rows are frames, not messages
	// Width is the terminal's width in columns: the table fits it (see
	// fitTable). 0 (not a terminal) gives every column and a payload of
	// MaxPayload.
	Width int
	// MaxPayload, when set, is the payload preview width in columns, with
	// every column shown; 0 = fitted to Width, or 60.
	MaxPayload int
	Flush      bool // flush every row (streaming input)
	Hex        bool // text payloads as hex too
	Color      bool // ANSI colours for directions and findings
	// Base, when set, makes times relative to it (the run's first packet;
	// the pipeline sets it before the first row is encoded).
	Base *time.Time

	shortFrom bool // c→s rather than client→server (set by NewTable)
}

// tableLayout is the columns a Table shows.
type tableLayout struct {
	clock     int  // width of the time of day: 15 (µs) or 12 (ms)
	pkt       bool // the packet-number column
	shortFrom bool
	conn, len int // widths of the number columns (they grow when a number needs it)
	payload   int
}

// fitTable chooses the columns for a terminal of width columns: every
// column while the payload keeps 40 columns, then the direction in short
// (c→s), then without the packet number, then times to the millisecond,
// the payload never under 20. Numbers never lose digits: their columns
// grow (see grid.grow). width 0 is not a terminal: every column, payload
// maxPayload or 60.
func fitTable(width, maxPayload int) tableLayout {
	full := tableLayout{clock: 15, pkt: true, conn: 5, len: 8}
	if maxPayload > 0 || width <= 0 {
		full.payload = cmp.Or(maxPayload, 60)
		return full
	}
	steps := []struct {
		l   tableLayout
		min int // the payload this layout must leave
	}{
		{full, 40},
		{tableLayout{clock: 15, pkt: true, shortFrom: true, conn: 5, len: 8}, 30},
		{tableLayout{clock: 15, shortFrom: true, conn: 5, len: 8}, 24},
		{tableLayout{clock: 12, shortFrom: true, conn: 4, len: 7}, 0},
	}
	for i, st := range steps {
		l := st.l
		l.payload = width - l.fixed()
		if l.payload >= st.min || i == len(steps)-1 {
			l.payload = max(20, l.payload)
			return l
		}
	}
	return full
}

// fixed is the width of everything but the payload: the other columns and
// the borders.
func (l tableLayout) fixed() int {
	w := l.clock + l.conn + 13 + 12 + l.len
	n := 6
	if l.shortFrom {
		w -= 10
	}
	if l.pkt {
		w += 7
		n++
	}
	return w + 3*n + 1
}

func (l tableLayout) widths() []int {
	w := []int{l.clock, l.conn}
	if l.pkt {
		w = append(w, 7)
	}
	from := 13
	if l.shortFrom {
		from = 3
	}
	return append(w, from, 12, l.len, l.payload)
}

func (l tableLayout) headers() []string {
	h := []string{"TIME", "CONN"}
	if l.pkt {
		h = append(h, "PKT")
	}
	from := "FROM"
	if l.shortFrom {
		from = "DIR"
	}
	return append(h, from, "TYPE", "LENGTH", "PAYLOAD / DETAIL")
}

const (
	colorReset  = "\x1b[0m"
	colorRed    = "\x1b[31m"
	colorYellow = "\x1b[33m"
	colorCyan   = "\x1b[36m"
	colorGreen  = "\x1b[32m"
	colorBlue   = "\x1b[34m"
	colorBold   = "\x1b[1m"
)

func (t *TableEncoder) paint(color, s string) string {
	if !t.opts.Color || s == "" {
		return s
	}
	return color + s + colorReset
}

func (t *TableEncoder) arrow(d dissect.Direction) string {
	s := d.Arrow()
	if t.opts.shortFrom {
		s = map[dissect.Direction]string{dissect.ClientToServer: "c→s", dissect.ServerToClient: "s→c"}[d]
	}
	if d == dissect.ClientToServer {
		return t.paint(colorGreen, s)
	}
	return t.paint(colorBlue, s)
}

// Table writes one row per message (or frame), handshake, finding and
// connection end, streamed as events arrive. Payload previews are escaped
// so that no payload byte can act on the terminal.
//
// The time column holds the time of day (UTC); the date is a row of its
// own above the first row and wherever it changes. A number that does not
// fit its column widens it, taken from the payload column (the header is
// printed again), so that the table keeps its width and no digit is cut.
type Table struct {
	g       *grid
	bw      *bufio.Writer
	opts    TableOptions
	lay     tableLayout
	started bool
	date    string // of the last row
	cells   []string
	// Footer lines are printed after the table (the findings by code).
	Footer []string
}

// NewTable returns a Table writing to w.
func NewTable(w io.Writer, opts TableOptions) *Table {
	lay := fitTable(opts.Width, opts.MaxPayload)
	opts.MaxPayload, opts.shortFrom = lay.payload, lay.shortFrom
	bw := bufio.NewWriterSize(w, 64<<10)
	g := newGrid(bw, lay.widths())
	n := len(g.widths)
	g.right = make([]bool, n)
	g.grow = make([]bool, n)
	g.wrap = make([]bool, n)
	for _, i := range []int{1, n - 2} { // CONN, LENGTH
		g.right[i], g.grow[i] = true, true
	}
	if lay.pkt {
		g.right[2], g.grow[2] = true, true
	}
	g.wrap[n-1] = true
	return &Table{g: g, bw: bw, opts: opts, lay: lay}
}

// header prints the column names between lines.
func (t *Table) header() {
	t.g.line()
	right := t.g.right
	t.g.right = nil // headers are left-aligned
	t.g.row(t.lay.headers())
	t.g.right = right
	t.g.line()
}

func (t *Table) row(cells []string) error {
	if !t.started {
		t.started = true
		t.g.fit(cells)
		t.header()
	} else if t.g.fit(cells) {
		t.header() // a number column grew
	}
	if err := t.g.row(cells); err != nil {
		return err
	}
	if t.opts.Flush {
		return t.bw.Flush()
	}
	return nil
}

// Encoder returns an encoder whose records WriteRecord takes.
func (t *Table) Encoder() Encoder { return &TableEncoder{opts: t.opts} }

// Emit writes the row of one event (a dissect.Sink for a single shard).
func (t *Table) Emit(ev *dissect.Event) error {
	enc := TableEncoder{opts: t.opts}
	var r tableRow
	if !enc.row(ev, &r) {
		return nil
	}
	return t.writeRow(ev.Conn.ID, &r)
}

// WriteRecord writes a row encoded by a TableEncoder, with its connection
// number.
func (t *Table) WriteRecord(r *Encoded) error { return t.writeRow(r.Conn, r.Value.(*tableRow)) }

func (t *Table) writeRow(conn int, r *tableRow) error {
	ts := r[0]
	if len(ts) == len("2006-01-02 15:04:05.000000") && ts[4] == '-' {
		if date := ts[:10]; date != t.date {
			if !t.started {
				t.started = true
				t.header()
			}
			t.date = date
			if err := t.g.banner(date + " (UTC)"); err != nil {
				return err
			}
		}
		ts = ts[11 : 11+t.lay.clock]
	}
	t.cells = append(t.cells[:0], ts, strconv.Itoa(conn))
	if t.lay.pkt {
		t.cells = append(t.cells, r[1])
	}
	t.cells = append(t.cells, r[2:]...)
	return t.row(t.cells)
}

// tableRow is a table record: the cells of a row but the connection
// number (time, packet, from, type, length, detail).
type tableRow [6]string

// TableEncoder makes the rows of a Table on a pipeline shard.
type TableEncoder struct {
	opts TableOptions
}

// Encode makes ev's row: the record's value is a *tableRow.
func (t *TableEncoder) Encode(dst []byte, ev *dissect.Event) ([]byte, any, bool) {
	var r tableRow
	if !t.row(ev, &r) {
		return dst, nil, false
	}
	v := new(tableRow)
	*v = r
	return dst, v, true
}

// row fills r with ev's row; it reports false when ev has none.
func (t *TableEncoder) row(ev *dissect.Event, r *tableRow) bool {
	c := t.cells5(ev)
	if c == nil {
		return false
	}
	r[0], r[1] = c[0], strconv.FormatUint(ev.Pos.Pkt, 10)
	copy(r[2:], c[1:])
	return true
}

// cells5 returns the row of an event but its packet number.
func (t *TableEncoder) cells5(ev *dissect.Event) []string {
	var ts string
	if b := t.opts.Base; b != nil && !b.IsZero() {
		ts = fmt.Sprintf("%.6f", ev.Pos.TS.Sub(*b).Seconds())
	} else {
		ts = ev.Pos.TS.UTC().Format("2006-01-02 15:04:05.000000")
	}
	switch ev.Kind {
	case dissect.KindHandshake:
		h := ev.Handshake
		verdict := "no response"
		if h.Status != 0 && h.H2 != nil {
			verdict = strconv.Itoa(h.Status) + ", h2 stream " + strconv.FormatUint(uint64(h.H2.Stream), 10)
		} else if h.Status != 0 {
			verdict = strconv.Itoa(h.Status)
			if h.Status == 101 {
				switch {
				case h.AcceptValid:
					verdict += ", accept ok"
				case h.AcceptUnchecked:
					verdict += ", accept not captured"
				default:
					verdict += ", ACCEPT INVALID"
				}
			}
		}
		detail := fmt.Sprintf("%s → %s %s %s host=%s (%s)", ev.Conn.Client, ev.Conn.Server, h.Method, h.Path, h.Host, verdict)
		if x := h.TLS; x != nil {
			detail = fmt.Sprintf("%s → %s %s wss://%s%s (%s; %s %s)", ev.Conn.Client, ev.Conn.Server, h.Method, h.Host, h.Path, verdict, x.Version, x.CipherSuite)
		}
		if !h.Captured {
			detail = fmt.Sprintf("%s → %s (handshake not captured)", ev.Conn.Client, ev.Conn.Server)
		}
		if h.Subprotocol != "" {
			detail += " protocol=" + h.Subprotocol
		}
		for _, x := range h.Extensions {
			detail += " ext=" + x.String()
		}
		return []string{ts, "", t.paint(colorBold, "handshake"), "", SafeText(detail, 0)}
	case dissect.KindMessage:
		m := ev.Message
		return []string{ts, t.arrow(m.From), t.msgType(m), t.msgLen(m), t.msgPreview(m)}
	case dissect.KindFrame:
		f := ev.Frame
		typ := f.Opcode.String()
		flags := ""
		if f.Fin {
			flags += "FIN "
		}
		if f.RSV != 0 {
			flags += fmt.Sprintf("RSV=%03b ", f.RSV)
		}
		if f.Masked {
			flags += fmt.Sprintf("mask=%x ", f.Key)
		}
		return []string{ts, t.arrow(f.From), typ, strconv.FormatUint(f.Length, 10), flags + HexPreview(f.Payload, t.opts.MaxPayload-len(flags))}
	case dissect.KindFinding:
		f := ev.Finding
		from := ""
		if f.Blame {
			from = f.From.String()
			if t.opts.shortFrom {
				from = from[:1]
			}
		}
		color := colorCyan
		switch f.Severity {
		case dissect.SeverityError:
			color = colorRed
		case dissect.SeverityWarning:
			color = colorYellow
		}
		return []string{ts, from, t.paint(color, "!"+f.Severity.String()), "", SafeText(string(f.Code)+": "+f.Detail, 0)}
	case dissect.KindConnection:
		s := ev.Summary
		detail := fmt.Sprintf("ended (%s): client sent %d messages/%d bytes, server %d/%d; findings %d error, %d warning, %d info",
			s.Reason, s.Client.Messages, s.Client.Bytes, s.Server.Messages, s.Server.Bytes,
			s.Findings[dissect.SeverityError], s.Findings[dissect.SeverityWarning], s.Findings[dissect.SeverityInfo])
		return []string{ts, "", "end", "", detail}
	}
	return nil
}

func (t *TableEncoder) msgType(m *dissect.Message) string {
	s := m.Opcode.String()
	if m.Frames > 1 {
		s += fmt.Sprintf("[%d]", m.Frames)
	}
	if m.Compressed {
		s += "+z"
	}
	return s
}

func (t *TableEncoder) msgLen(m *dissect.Message) string {
	if m.Undecodable {
		return "?"
	}
	return strconv.FormatInt(m.Length, 10)
}

func (t *TableEncoder) msgPreview(m *dissect.Message) string {
	var flags string
	switch {
	case m.Undecodable:
		return fmt.Sprintf("(undecodable: %d compressed bytes)", m.WireLength)
	case m.Incomplete:
		flags = "(incomplete) "
	case m.Truncated:
		flags = "(truncated) "
	}
	max := t.opts.MaxPayload - len(flags)
	switch {
	case m.App != nil && m.App.Summary != "":
		return flags + SafeText(m.App.Protocol.String()+" "+m.App.Summary, max)
	case m.Opcode == dissect.OpClose:
		if m.CloseCode == 0 {
			return flags + "(no status)"
		}
		return flags + SafeText(fmt.Sprintf("%d %s", m.CloseCode, m.CloseReason), max)
	case m.Opcode == dissect.OpText && m.TextValid && t.opts.Hex:
		// Text and hex, as --hex says: the text first, then its bytes.
		text := SafeText(string(m.Payload), max/2)
		return flags + text + " | " + HexPreview(m.Payload, max-visibleWidth(text)-3)
	case m.Opcode == dissect.OpText && m.TextValid:
		return flags + SafeText(string(m.Payload), max)
	case m.Opcode == dissect.OpText && !m.TextValid:
		return flags + "(invalid UTF-8) " + HexPreview(m.Payload, max-16)
	}
	return flags + HexPreview(m.Payload, max)
}

// Finish adds the caps the run hit and the findings by code, most first,
// under the table.
func (t *Table) Finish(tot *Totals) {
	t.Footer = append(t.Footer, tot.Caps...)
	if len(tot.Findings) == 0 {
		return
	}
	m := map[string]int64{}
	for code, n := range tot.Findings {
		m[string(code)] = n
	}
	t.Footer = append(t.Footer, "findings: "+CountsText(m))
}

// Flush writes out the rows buffered (pipeline.Options.FlushWriter).
func (t *Table) Flush() error { return t.bw.Flush() }

// Close ends the table.
func (t *Table) Close() error {
	if t.started {
		t.g.line()
	}
	for _, l := range t.Footer {
		t.bw.WriteString(SafeText(l, 0) + "\n")
	}
	return t.bw.Flush()
}
