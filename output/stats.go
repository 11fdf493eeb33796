package output

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/wscap/wscap/dissect"
)

// Stats summarises connections: one row per WebSocket connection and a
// totals row, as a table or as JSON Lines. It takes connection records
// encoded by a JSONLEncoder and keeps only a small row per connection.
type Stats struct {
	w       io.Writer
	jsonl   bool
	rows    []statsRow
	total   statsRow
	Extra   []string // lines printed after the table (packet counters)
	Packets any      // packet counters for the JSON totals object
	errors  int
}

// NewStats returns a Stats writer; jsonl selects JSON Lines.
func NewStats(w io.Writer, jsonl bool) *Stats { return &Stats{w: w, jsonl: jsonl} }

// Encoder returns the encoder whose records WriteRecord takes: connection
// records only.
func (s *Stats) Encoder() Encoder {
	return Filtered(&JSONLEncoder{}, &Filter{Kinds: []dissect.Kind{dissect.KindConnection}})
}

// statsRow is what is kept of one connection (about 300 bytes).
type statsRow struct {
	Kind        string  `json:"kind"`
	Conn        int     `json:"conn,omitempty"`
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

// WriteRecord takes one connection record.
func (s *Stats) WriteRecord(kind dissect.Kind, conn int, body []byte) error {
	if kind != dissect.KindConnection {
		return nil
	}
	var r ConnectionRecord
	full := append([]byte(`{"kind":"connection","conn":`+strconv.Itoa(conn)), body...)
	if err := json.Unmarshal(full, &r); err != nil {
		return fmt.Errorf("output: stats: %v", err)
	}
	row := statsRow{Kind: "connection", Conn: conn, Client: r.Client, Server: r.Server, Host: r.Host, Path: r.Path, Subprotocol: r.Subprotocol,
		Extensions: strings.Join(r.Extensions, ", "), Duration: r.DurationSec, End: r.End,
		ClientMessages: r.FromClient.Messages, ServerMessages: r.FromServer.Messages,
		ClientBytes: r.FromClient.Bytes, ServerBytes: r.FromServer.Bytes,
		Compressed: r.FromClient.Compressed + r.FromServer.Compressed,
		Largest:    max(r.FromClient.Largest, r.FromServer.Largest), ClosedBy: r.ClosedBy,
		Errors: r.Findings["error"], Warnings: r.Findings["warning"], Infos: r.Findings["info"]}
	switch {
	case !r.Captured:
		row.Handshake = "not captured"
	case r.Status == 0:
		row.Handshake = "no response"
	case r.Status != 101:
		row.Handshake = "rejected " + strconv.Itoa(r.Status)
	case r.AcceptValid != nil && *r.AcceptValid:
		row.Handshake = "ok"
	default:
		row.Handshake = "ACCEPT INVALID"
	}
	for _, d := range []DirRecord{r.FromClient, r.FromServer} {
		for name, n := range d.ByOpcode {
			if op, ok := dissect.ParseOpcode(name); ok {
				row.types[op] += int64(n)
			}
		}
	}
	row.Types = typesString(&row.types)
	if row.Compressed > 0 && r.FromClient.WireBytes+r.FromServer.WireBytes > 0 {
		row.Ratio = float64(r.FromClient.Bytes+r.FromServer.Bytes) / float64(r.FromClient.WireBytes+r.FromServer.WireBytes)
	}
	if r.RTT != nil {
		row.RTTCount, row.RTTMin, row.RTTMedian, row.RTTMax = r.RTT.Count, r.RTT.Min, r.RTT.Median, r.RTT.Max
	}
	var codes []string
	if c := r.FromClient.CloseCode; c != 0 {
		codes = append(codes, "client "+strconv.Itoa(c))
	}
	if c := r.FromServer.CloseCode; c != 0 {
		codes = append(codes, "server "+strconv.Itoa(c))
	}
	row.CloseCodes = strings.Join(codes, ", ")
	s.add(&row)
	if s.jsonl {
		return s.writeJSON(row)
	}
	s.rows = append(s.rows, row)
	return nil
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
	var parts []string
	for op, n := range t {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s:%d", dissect.Opcode(op), n))
		}
	}
	return strings.Join(parts, " ")
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
	bw := bufio.NewWriter(s.w)
	tbl := tablewriter.NewTable(bw,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleASCII)})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
	)
	tbl.Header("CONN", "CLIENT → SERVER", "HOST/PATH", "PROTOCOL/EXT", "HANDSHAKE", "DURATION", "MSGS C/S", "BYTES C/S", "TYPES", "Z RATIO", "LARGEST", "RTT MIN/MED/MAX ms", "CLOSE", "FINDINGS E/W/I")
	for _, r := range s.rows {
		tbl.Append(s.cells(&r, strconv.Itoa(r.Conn)))
	}
	tot := *t
	tbl.Append(s.cells(&tot, fmt.Sprintf("%d total", t.Connections)))
	if err := tbl.Render(); err != nil {
		return err
	}
	for _, l := range s.Extra {
		fmt.Fprintln(bw, l)
	}
	return bw.Flush()
}

func (s *Stats) cells(r *statsRow, conn string) []string {
	rtt := ""
	if r.RTTCount > 0 {
		rtt = fmt.Sprintf("%.3g/%.3g/%.3g", r.RTTMin, r.RTTMedian, r.RTTMax)
		if r.Handshake == "totals" {
			rtt = fmt.Sprintf("%.3g/-/%.3g", r.RTTMin, r.RTTMax)
		}
	}
	ratio := ""
	if r.Ratio > 0 {
		ratio = fmt.Sprintf("%.2f", r.Ratio)
	}
	closed := r.CloseCodes
	if r.ClosedBy != "" {
		closed = strings.TrimSuffix(r.ClosedBy+" first; "+closed, "; ")
	}
	endpoints, hostPath, proto := "", "", ""
	if r.Client != "" {
		endpoints = r.Client + " → " + r.Server
		hostPath = r.Host + r.Path
		proto = strings.TrimSpace(r.Subprotocol + " " + r.Extensions)
	}
	return []string{conn, SafeText(endpoints, 0), SafeText(hostPath, 40), SafeText(proto, 40), r.Handshake,
		(time.Duration(r.Duration * float64(time.Second))).Round(time.Millisecond).String(),
		fmt.Sprintf("%d/%d", r.ClientMessages, r.ServerMessages), fmt.Sprintf("%d/%d", r.ClientBytes, r.ServerBytes),
		r.Types, ratio, strconv.FormatInt(r.Largest, 10), rtt, closed, fmt.Sprintf("%d/%d/%d", r.Errors, r.Warnings, r.Infos)}
}
