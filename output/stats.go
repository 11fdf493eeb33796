package output

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/wscap/wscap/dissect"
)

// Stats summarises connections: one row per WebSocket connection and a
// totals row, as a table or as JSON Lines. It takes connection records
// encoded by a JSONLEncoder and keeps only a small row per connection.
type Stats struct {
	w       io.Writer
	jsonl   bool
	tbl     *grid // streamed: one row as each connection ends
	bw      *bufio.Writer
	total   statsRow
	Extra   []string // lines printed after the table (packet counters)
	Packets any      // packet counters for the JSON totals object
	cells   []string
}

// NewStats returns a Stats writer; jsonl selects JSON Lines.
func NewStats(w io.Writer, jsonl bool) *Stats { return &Stats{w: w, jsonl: jsonl} }

// Encoder returns the encoder whose records WriteRecord takes: a shard
// turns each connection record into its finished row (and the numbers the
// totals need), so that the writer only adds and prints.
func (s *Stats) Encoder() Encoder { return &statsEncoder{jsonl: s.jsonl} }

type statsEncoder struct{ jsonl bool }

// statsNums is how many int64 a row's body starts with: the totals' inputs.
const statsNums = 13 + 16

// AppendRecord appends the numbers for the totals, then the row: a JSON
// object without "kind" and "conn", or the table cells after CONN,
// NUL-separated.
func (e *statsEncoder) AppendRecord(dst []byte, ev *dissect.Event) []byte {
	if ev.Kind != dissect.KindConnection {
		return nil
	}
	row := rowOf(ev)
	for _, v := range []int64{int64(row.Duration * 1e9), row.ClientMessages, row.ServerMessages, row.ClientBytes, row.ServerBytes,
		row.Compressed, row.Largest, row.RTTCount, int64(row.RTTMin * 1e6), int64(row.RTTMax * 1e6), int64(row.Errors), int64(row.Warnings), int64(row.Infos)} {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
	}
	for _, v := range row.types {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
	}
	if e.jsonl {
		b, _ := json.Marshal(row)
		return append(dst, b...)
	}
	return appendCells(dst, &row)
}

// rowOf summarises a connection record.
func rowOf(ev *dissect.Event) statsRow {
	sum := ev.Summary
	cl, sv := &sum.Client, &sum.Server
	row := statsRow{Client: ev.Conn.Client.String(), Server: ev.Conn.Server.String(),
		Duration: sum.End.TS.Sub(sum.Start.TS).Seconds(), End: sum.Reason.String(),
		ClientMessages: cl.Messages, ServerMessages: sv.Messages, ClientBytes: cl.Bytes, ServerBytes: sv.Bytes,
		Compressed: cl.Compressed + sv.Compressed, Largest: max(cl.Largest, sv.Largest),
		Errors: int(sum.Findings[dissect.Error]), Warnings: int(sum.Findings[dissect.Warning]), Infos: int(sum.Findings[dissect.Info])}
	if sum.ClosedFirst {
		row.ClosedBy = sum.ClosedBy.String()
	}
	if h := sum.Handshake; h != nil {
		row.Host, row.Path, row.Subprotocol = h.Host, h.Path, h.Subprotocol
		var exts []string
		for _, x := range h.Extensions {
			exts = append(exts, x.String())
		}
		row.Extensions = strings.Join(exts, ", ")
		switch {
		case !h.Captured:
			row.Handshake = "not captured"
		case h.Status == 0:
			row.Handshake = "no response"
		case h.Status != 101:
			row.Handshake = "rejected " + strconv.Itoa(h.Status)
		case h.AcceptValid:
			row.Handshake = "ok"
		default:
			row.Handshake = "ACCEPT INVALID"
		}
	}
	for op := range row.types {
		row.types[op] = int64(cl.ByOpcode[op]) + int64(sv.ByOpcode[op])
	}
	row.Types = typesString(&row.types)
	if row.Compressed > 0 && cl.WireBytes+sv.WireBytes > 0 {
		row.Ratio = float64(cl.Bytes+sv.Bytes) / float64(cl.WireBytes+sv.WireBytes)
	}
	if r := &sum.RTT; r.Count > 0 {
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		row.RTTCount, row.RTTMin, row.RTTMedian, row.RTTMax = r.Count, ms(r.Min), ms(r.Median()), ms(r.Max)
	}
	var codes []string
	if c := cl.CloseCode; c != 0 {
		codes = append(codes, "client "+strconv.Itoa(c))
	}
	if c := sv.CloseCode; c != 0 {
		codes = append(codes, "server "+strconv.Itoa(c))
	}
	row.CloseCodes = strings.Join(codes, ", ")
	return row
}

// statsRow is what is kept of one connection (about 300 bytes).
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
func (s *Stats) WriteRecord(kind dissect.Kind, conn int, body []byte) error {
	if kind != dissect.KindConnection || len(body) < 8*statsNums {
		return nil
	}
	var n [statsNums]int64
	for i := range n {
		n[i] = int64(binary.LittleEndian.Uint64(body[8*i:]))
	}
	body = body[8*statsNums:]
	row := statsRow{Duration: float64(n[0]) / 1e9, ClientMessages: n[1], ServerMessages: n[2], ClientBytes: n[3], ServerBytes: n[4],
		Compressed: n[5], Largest: n[6], RTTCount: n[7], RTTMin: float64(n[8]) / 1e6, RTTMax: float64(n[9]) / 1e6,
		Errors: int(n[10]), Warnings: int(n[11]), Infos: int(n[12])}
	copy(row.types[:], n[13:])
	s.add(&row)
	if s.jsonl {
		_, err := fmt.Fprintf(s.w, `{"kind":"connection","conn":%d,%s`+"\n", conn, body[1:])
		return err
	}
	s.cells = append(s.cells[:0], strconv.Itoa(conn))
	for rest := string(body); ; {
		cell, more, ok := strings.Cut(rest, "\x00")
		s.cells = append(s.cells, cell)
		if !ok {
			break
		}
		rest = more
	}
	return s.appendRow(s.cells)
}

// statsWidths are the columns' widths: rows are streamed, so widths are
// fixed (longer cells wrap).
var statsWidths = []int{7, 44, 30, 30, 14, 8, 11, 17, 40, 7, 8, 18, 30, 14}

func (s *Stats) appendRow(cells []string) error {
	if s.tbl == nil {
		s.bw = bufio.NewWriterSize(s.w, 64<<10)
		s.tbl = newGrid(s.bw, statsWidths)
		s.tbl.line()
		s.tbl.row([]string{"CONN", "CLIENT → SERVER", "HOST/PATH", "PROTOCOL/EXT", "HANDSHAKE", "DURATION", "MSGS C/S", "BYTES C/S", "TYPES", "Z RATIO", "LARGEST", "RTT MIN/MED/MAX ms", "CLOSE", "FINDINGS E/W/I"})
		s.tbl.line()
	}
	return s.tbl.row(cells)
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
	b := buf[:0]
	for op, n := range t {
		if n > 0 {
			if len(b) > 0 {
				b = append(b, ' ')
			}
			b = append(b, dissect.Opcode(op).String()...)
			b = append(b, ':')
			b = strconv.AppendInt(b, n, 10)
		}
	}
	return string(b)
}

// appendPair appends "a/b".
func appendPair(dst []byte, a, b int64) []byte {
	return strconv.AppendInt(append(strconv.AppendInt(dst, a, 10), '/'), b, 10)
}

func (s *Stats) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = s.w.Write(append(b, '\n'))
	return err
}

// Close writes the table (or the JSON totals object).
func (s *Stats) Close() error {
	t := &s.total
	t.Types = typesString(&t.types)
	t.Handshake = "totals"
	t.Kind = "totals"
	if s.jsonl {
		return s.writeJSON(struct {
			statsRow
			Packets any `json:"packets,omitempty"`
		}{*t, s.Packets})
	}
	tot := *t
	if err := s.appendRow(append([]string{fmt.Sprintf("%d total", t.Connections)}, rowCells(&tot)...)); err != nil {
		return err
	}
	if err := s.tbl.line(); err != nil {
		return err
	}
	for _, l := range s.Extra {
		fmt.Fprintln(s.bw, l)
	}
	return s.bw.Flush()
}

// rowCells returns a row's table cells after CONN.
func rowCells(r *statsRow) []string {
	return strings.Split(string(appendCells(nil, r)), "\x00")
}

// appendCells appends a row's table cells after CONN, NUL-separated, with
// no allocation for what needs no escaping.
func appendCells(b []byte, r *statsRow) []byte {
	if r.Client != "" {
		b = append(b, SafeText(r.Client, 0)...) // each side alone takes SafeText's fast path
		b = append(b, " → "...)
		b = append(b, SafeText(r.Server, 0)...)
		b = append(append(b, 0), SafeText(r.Host+r.Path, 40)...)
		b = append(append(b, 0), SafeText(strings.TrimSpace(r.Subprotocol+" "+r.Extensions), 40)...)
	} else {
		b = append(b, 0, 0)
	}
	b = append(append(b, 0), r.Handshake...)
	b = append(append(b, 0), time.Duration(r.Duration*float64(time.Second)).Round(time.Millisecond).String()...)
	b = appendPair(append(b, 0), r.ClientMessages, r.ServerMessages)
	b = appendPair(append(b, 0), r.ClientBytes, r.ServerBytes)
	b = append(append(b, 0), r.Types...)
	b = append(b, 0)
	if r.Ratio > 0 {
		b = strconv.AppendFloat(b, r.Ratio, 'f', 2, 64)
	}
	b = strconv.AppendInt(append(b, 0), r.Largest, 10)
	b = append(b, 0)
	if r.RTTCount > 0 {
		b = append(strconv.AppendFloat(b, r.RTTMin, 'g', 3, 64), '/')
		if r.Handshake == "totals" {
			b = append(b, '-')
		} else {
			b = strconv.AppendFloat(b, r.RTTMedian, 'g', 3, 64)
		}
		b = strconv.AppendFloat(append(b, '/'), r.RTTMax, 'g', 3, 64)
	}
	b = append(b, 0)
	if r.ClosedBy != "" {
		b = append(append(b, r.ClosedBy...), " first"...)
		if r.CloseCodes != "" {
			b = append(b, "; "...)
		}
	}
	b = append(b, r.CloseCodes...)
	b = appendPair(append(b, 0), int64(r.Errors), int64(r.Warnings))
	return strconv.AppendInt(append(b, '/'), int64(r.Infos), 10)
}
