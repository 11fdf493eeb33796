package output

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/wscap/wscap/dissect"
)

// TableOptions configure a Table.
type TableOptions struct {
	Frames     bool // rows are frames, not messages
	MaxPayload int  // payload preview width in characters; 0 = 60
	Flush      bool // flush every row (streaming input)
	Hex        bool // text payloads as hex too
	Color      bool // ANSI colours for directions and findings
	// Base, when set, makes times relative to it (the run's first packet;
	// the pipeline sets it before the first row is encoded).
	Base *time.Time
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
	if d == dissect.ClientToServer {
		return t.paint(colorGreen, d.Arrow())
	}
	return t.paint(colorBlue, d.Arrow())
}

// Table writes one row per message (or frame), handshake, finding and
// connection end, streamed as events arrive. Payload previews are escaped
// so that no payload byte can act on the terminal.
type Table struct {
	g       *grid
	bw      *bufio.Writer
	opts    TableOptions
	started bool
	// Footer lines are printed after the table (the findings by code).
	Footer []string
}

// NewTable returns a Table writing to w.
func NewTable(w io.Writer, opts TableOptions) *Table {
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = 60
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	g := newGrid(bw, []int{26, 4, 13, 11, 7, opts.MaxPayload})
	g.right = []bool{false, true, false, false, true, false}
	g.wrap = []bool{false, false, false, false, false, true}
	return &Table{g: g, bw: bw, opts: opts}
}

func (t *Table) row(cells ...string) error {
	if !t.started {
		t.started = true
		t.g.line()
		right := t.g.right
		t.g.right = nil // headers are left-aligned
		t.g.row([]string{"TIME", "CONN", "FROM", "TYPE", "LENGTH", "PAYLOAD / DETAIL"})
		t.g.right = right
		t.g.line()
	}
	if err := t.g.row(cells); err != nil {
		return err
	}
	if t.opts.Flush {
		return t.bw.Flush()
	}
	return nil
}

// Encoder returns an encoder whose output WriteRecord takes.
func (t *Table) Encoder() Encoder { return &TableEncoder{opts: t.opts} }

// Emit writes the row of one event (a dissect.Sink for a single shard).
func (t *Table) Emit(ev *dissect.Event) error {
	enc := TableEncoder{opts: t.opts}
	body := enc.AppendRecord(nil, ev)
	if body == nil {
		return nil
	}
	return t.WriteRecord(ev.Kind, ev.Conn.ID, body)
}

// WriteRecord writes a row encoded by a TableEncoder, with its connection
// number.
func (t *Table) WriteRecord(kind dissect.Kind, conn int, body []byte) error {
	cells := strings.Split(string(body), "\x00")
	if len(cells) != 5 {
		return fmt.Errorf("output: bad table record %q", body)
	}
	return t.row(cells[0], strconv.Itoa(conn), cells[1], cells[2], cells[3], cells[4])
}

// TableEncoder encodes the cells of a table row (all but the connection
// number), NUL-separated, on a pipeline shard.
type TableEncoder struct {
	opts TableOptions
}

// AppendRecord appends ev's row, or returns nil when ev has none.
func (t *TableEncoder) AppendRecord(dst []byte, ev *dissect.Event) []byte {
	cells := t.cells(ev)
	if cells == nil {
		return nil
	}
	for i, c := range cells {
		if i > 0 {
			dst = append(dst, 0)
		}
		dst = append(dst, strings.ReplaceAll(c, "\x00", "")...)
	}
	if dst == nil {
		dst = []byte{}
	}
	return dst
}

// cells returns the row of an event: time, from, type, length, detail.
func (t *TableEncoder) cells(ev *dissect.Event) []string {
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
		if h.Status != 0 {
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
		}
		color := colorCyan
		switch f.Severity {
		case dissect.Error:
			color = colorRed
		case dissect.Warning:
			color = colorYellow
		}
		return []string{ts, from, t.paint(color, "!"+f.Severity.String()), "", SafeText(string(f.Code)+": "+f.Detail, 0)}
	case dissect.KindConnection:
		s := ev.Summary
		detail := fmt.Sprintf("ended (%s): client sent %d messages/%d bytes, server %d/%d; findings %d error, %d warning, %d info",
			s.Reason, s.Client.Messages, s.Client.Bytes, s.Server.Messages, s.Server.Bytes,
			s.Findings[dissect.Error], s.Findings[dissect.Warning], s.Findings[dissect.Info])
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
