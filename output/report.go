package output

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wscap/wscap/dissect"
)

// Report writes one self-contained HTML page that shows a capture: an
// overview, the connections, a timeline per connection, plots, the
// findings and a message browser. The page works offline: its script and
// style are inlined, and the data is one JSON document inside it, written
// by encoding/json (which escapes <, >, & and U+2028/U+2029, so no string
// from the capture can end the script element or the JSON), read with
// JSON.parse and put in the page with textContent only.
type Report struct {
	w       *bufio.Writer
	version string
	// Files are the input names, for the title.
	Files []string
	// Totals is the run's totals record, shown in the overview.
	Totals any

	conns   map[int]*repConn
	order   []int
	t0, t1  time.Time
	started bool

	msgs      []repMsg
	msgTotal  int64
	stride    int64 // messages are kept every stride-th (see keep)
	payloads  int   // payload bytes kept in msgs
	sizeHist  [2][]int64
	buckets   []repBucket // per bucketSec seconds, grown as time goes on
	bucketSec int64
	latency   [][2]float64
	findings  []repFinding
	byCode    map[string]int64
	fTotal    int64
	closeCode map[string]int64
	scratch   []byte
}

// Bounds of what a report keeps, so that a capture of millions of
// messages gives a page of some 25 MB at most: plots aggregate, the
// message browser samples evenly (and says so), payloads are cut.
const (
	reportMaxMessages  = 100000
	reportPreview      = 160     // characters of a message's preview
	reportPayload      = 4 << 10 // payload bytes kept per message
	reportPayloadTotal = 6 << 20 // payload bytes kept in all
	reportMaxFindings  = 20000
	reportMaxPoints    = 20000 // RTT and latency points
	reportMaxBuckets   = 4000
	reportMaxConns     = 10000 // connections listed: those with findings first, then the busiest
)

type repConn struct {
	ID         int        `json:"id"`
	Client     string     `json:"client"`
	Server     string     `json:"server"`
	Host       string     `json:"host"`
	Path       string     `json:"path"`
	Sub        string     `json:"subprotocol"`
	Ext        string     `json:"extensions"`
	Carrier    string     `json:"carrier"`
	H2Stream   uint32     `json:"h2_stream,omitempty"`
	Status     int        `json:"status"`
	Start      float64    `json:"start"` // seconds since the capture's first record
	End        float64    `json:"end"`
	Duration   float64    `json:"duration"`
	Msgs       [2]int64   `json:"msgs"`
	Bytes      [2]int64   `json:"bytes"`
	Wire       [2]int64   `json:"wire"`
	Ratio      float64    `json:"ratio,omitempty"`
	RTT        *RTTRecord `json:"rtt,omitempty"`
	Ended      string     `json:"ended"`
	Close      string     `json:"close"`
	Findings   [3]int64   `json:"findings"` // error, warning, info
	App        string     `json:"app,omitempty"`
	AppTop     string     `json:"app_top,omitempty"`
	compressed int64
}

// repMsg is a message of the browser: [conn, time, from (0 client),
// opcode, length, wire length, flags, preview, payload, app summary,
// index, packet]. flags: 1 compressed, 2 truncated, 4 incomplete, 8
// undecodable, 16 binary payload (hex).
type repMsg [12]any

type repBucket struct {
	Msgs  [2]int64 `json:"m"`
	Bytes [2]int64 `json:"b"`
}

type repFinding struct {
	Code     string  `json:"code"`
	Severity string  `json:"severity"`
	RFC      string  `json:"rfc,omitempty"`
	From     string  `json:"from,omitempty"`
	Detail   string  `json:"detail"`
	Conn     int     `json:"conn"`
	T        float64 `json:"t"`
	Pkt      uint64  `json:"pkt"`
	Msg      int64   `json:"msg"` // the index of the message before it, -1 for none
}

// NewReport returns a Report writing to w.
func NewReport(w io.Writer, version string) *Report {
	return &Report{w: bufio.NewWriterSize(w, 1<<16), version: version, conns: map[int]*repConn{}, stride: 1, bucketSec: 1,
		byCode: map[string]int64{}, closeCode: map[string]int64{}}
}

// Encoder returns the encoder whose records WriteRecord takes.
func (r *Report) Encoder() Encoder { return reportEncoder{} }

// reportMsg is the value of a message record; its bytes are the first
// reportPayload bytes of the payload (and a rune's more), all the page
// keeps of it.
type reportMsg struct {
	ts                 time.Time
	pkt                uint64
	from               int // 0 client, 1 server
	opcode             string
	length, wireLength int64
	flags              int // as repMsg's, 16 (binary) included
	text               bool
	closeCode          int
	closeReason        string
	app                *reportApp
}

type reportApp struct {
	protocol, summary string
	latency           *float64
}

// reportEvent is the value of a handshake, finding or connection record.
// Its strings are made valid UTF-8 (each stray byte U+FFFD), as the page
// has always shown them.
type reportEvent struct {
	ts                        time.Time
	client, server            string
	captured                  bool
	status                    int
	host, path, sub, ext      string
	h2Stream                  uint32
	tls                       bool
	code, severity, rfc, from string
	detail                    string
	pkt                       uint64
	duration                  float64
	end                       string
	sent                      [2]dissect.DirStats
	rtt                       *RTTRecord
	app, appTop               string
	findings                  [3]int64
}

type reportEncoder struct{}

func rttRecord(r *dissect.RTT) *RTTRecord {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return &RTTRecord{Count: r.Count, Min: ms(r.Min), Median: ms(r.Median()), Max: ms(r.Max)}
}

func (reportEncoder) Encode(dst []byte, ev *dissect.Event) ([]byte, any, bool) {
	ts := ev.Pos.TS
	switch ev.Kind {
	case dissect.KindMessage:
		m := ev.Message
		r := &reportMsg{ts: ts, pkt: ev.Pos.Pkt, opcode: m.Opcode.String(), length: m.Length, wireLength: m.WireLength}
		if m.From == dissect.ServerToClient {
			r.from = 1
		}
		if m.Undecodable {
			r.length = m.WireLength
		}
		for i, on := range []bool{m.Compressed, m.Truncated, m.Incomplete, m.Undecodable} {
			if on {
				r.flags |= 1 << i
			}
		}
		keep := m.Payload[:min(len(m.Payload), reportPayload+utf8.UTFMax)]
		switch {
		case m.Undecodable:
		case m.Opcode == dissect.OpText && m.TextValid:
			r.text = true
			dst = append(dst, keep...)
		case m.Opcode != dissect.OpClose || m.CloseCode == 0:
			r.flags |= 16
			dst = append(dst, keep...)
		}
		if m.Opcode == dissect.OpClose && m.CloseCode != 0 {
			r.closeCode, r.closeReason = int(m.CloseCode), validUTF8(m.CloseReason)
		}
		if m.App != nil {
			a := NewAppRecord(m.App)
			r.app = &reportApp{protocol: a.Protocol, summary: validUTF8(a.Summary), latency: a.LatencyMS}
		}
		return dst, r, true
	case dissect.KindHandshake:
		h := ev.Handshake
		r := &reportEvent{ts: ts, client: ev.Conn.Client.String(), server: ev.Conn.Server.String(), captured: h.Captured, status: h.Status,
			host: validUTF8(h.Host), path: validUTF8(h.Path), sub: validUTF8(h.Subprotocol), h2Stream: ev.Conn.H2Stream, tls: h.TLS != nil}
		var ext []string
		for _, x := range h.Extensions {
			ext = append(ext, validUTF8(x.String()))
		}
		r.ext = strings.Join(ext, ", ")
		return dst, r, true
	case dissect.KindFinding:
		f := ev.Finding
		r := &reportEvent{ts: ts, code: validUTF8(string(f.Code)), severity: f.Severity.String(), rfc: validUTF8(f.RFC), detail: validUTF8(f.Detail), pkt: ev.Pos.Pkt}
		if f.Blame {
			r.from = f.From.String()
		}
		return dst, r, true
	case dissect.KindConnection:
		s := ev.Summary
		r := &reportEvent{ts: ts, client: ev.Conn.Client.String(), server: ev.Conn.Server.String(), duration: s.Duration.Seconds(), end: s.Reason.String(),
			sent:     [2]dissect.DirStats{s.Client, s.Server},
			findings: [3]int64{s.Findings[dissect.SeverityError], s.Findings[dissect.SeverityWarning], s.Findings[dissect.SeverityInfo]}}
		if s.RTT.Count > 0 {
			r.rtt = rttRecord(&s.RTT)
		}
		if a := s.App; a != nil {
			r.app = validUTF8(a.Protocol)
			var top []string
			for _, nc := range a.Top {
				// The count as a JSON number read back into an any
				// (a float64) prints: 1.234567e+06 from a million on.
				top = append(top, fmt.Sprintf("%v ×%v", validUTF8(nc.Name), float64(nc.Count)))
			}
			r.appTop = strings.Join(top, ", ")
		}
		return dst, r, true
	}
	return dst, nil, false
}

func (r *Report) seconds(t time.Time) float64 {
	if !r.started {
		r.t0, r.started = t, true
	}
	if t.After(r.t1) {
		r.t1 = t
	}
	return math.Round(t.Sub(r.t0).Seconds()*1e6) / 1e6
}

// WriteRecord takes one record.
func (r *Report) WriteRecord(e *Encoded) error {
	conn := e.Conn
	conns := func(t float64) *repConn {
		c := r.conns[conn]
		if c == nil && conn > 0 {
			c = &repConn{ID: conn, Start: t}
			r.conns[conn] = c
			r.order = append(r.order, conn)
		}
		return c
	}
	if m, ok := e.Value.(*reportMsg); ok {
		t := r.seconds(m.ts)
		r.message(conns(t), t, m, e.Bytes)
		return nil
	}
	rec, ok := e.Value.(*reportEvent)
	if !ok {
		return nil
	}
	t := r.seconds(rec.ts)
	c := conns(t)
	switch e.Kind {
	case dissect.KindHandshake:
		c.Client, c.Server, c.Host, c.Path, c.Sub, c.Status = rec.client, rec.server, rec.host, rec.path, rec.sub, rec.status
		c.Ext = rec.ext
		c.H2Stream = rec.h2Stream
		switch {
		case rec.tls && rec.h2Stream != 0:
			c.Carrier = "h2+tls"
		case rec.h2Stream != 0:
			c.Carrier = "h2"
		case rec.tls:
			c.Carrier = "wss"
		default:
			c.Carrier = "ws"
		}
		if !rec.captured {
			c.Carrier += " (handshake not captured)"
		}
	case dissect.KindFinding:
		r.fTotal++
		r.byCode[rec.code]++
		if len(r.findings) < reportMaxFindings {
			r.findings = append(r.findings, repFinding{Code: rec.code, Severity: rec.severity, RFC: rec.rfc, From: rec.from,
				Detail: rec.detail, Conn: conn, T: t, Pkt: rec.pkt, Msg: r.msgTotal - 1})
		}
	case dissect.KindConnection:
		if c == nil {
			return nil
		}
		if c.Client == "" {
			c.Client, c.Server = rec.client, rec.server
		}
		c.End, c.Duration, c.Ended = t, rec.duration, rec.end
		for d := range 2 {
			s := &rec.sent[d]
			c.Msgs[d], c.Bytes[d], c.Wire[d] = s.Messages, s.Bytes, s.WireBytes
			c.compressed += s.Compressed
		}
		if c.compressed > 0 && c.Wire[0]+c.Wire[1] > 0 {
			c.Ratio = math.Round(float64(c.Bytes[0]+c.Bytes[1])/float64(c.Wire[0]+c.Wire[1])*100) / 100
		}
		c.RTT = rec.rtt
		var cl []string
		for d, who := range []string{"client", "server"} {
			if code := int(rec.sent[d].CloseCode); code != 0 {
				cl = append(cl, who+" "+strconv.Itoa(code))
				r.closeCode[strconv.Itoa(code)]++
			}
		}
		c.Close = strings.Join(cl, ", ")
		c.Findings = rec.findings
		c.App, c.AppTop = rec.app, rec.appTop
	}
	return nil
}

// bucket returns the interval of t (seconds since the first record). The
// intervals are a second wide until there would be more than
// reportMaxBuckets; then neighbours merge and the width doubles (the page
// shows it), so that a capture spanning years (or a packet stamped in
// 2038) costs no more than a short one.
func (r *Report) bucket(t float64) *repBucket {
	at := max(0, int64(t))
	for at/r.bucketSec >= reportMaxBuckets {
		merged := make([]repBucket, (len(r.buckets)+1)/2)
		for i, b := range r.buckets {
			m := &merged[i/2]
			for k := range 2 {
				m.Msgs[k] += b.Msgs[k]
				m.Bytes[k] += b.Bytes[k]
			}
		}
		r.buckets = merged
		r.bucketSec *= 2
	}
	i := int(at / r.bucketSec)
	for i >= len(r.buckets) {
		r.buckets = append(r.buckets, repBucket{})
	}
	return &r.buckets[i]
}

func (r *Report) message(c *repConn, t float64, rec *reportMsg, payload []byte) {
	idx := r.msgTotal
	r.msgTotal++
	from := rec.from
	length := rec.length
	b := r.bucket(t)
	b.Msgs[from]++
	b.Bytes[from] += length
	size := 0
	for v := length; v > 0; v >>= 1 {
		size++
	}
	for len(r.sizeHist[from]) <= size {
		r.sizeHist[0] = append(r.sizeHist[0], 0)
		r.sizeHist[1] = append(r.sizeHist[1], 0)
	}
	r.sizeHist[from][size]++
	if rec.app != nil && rec.app.latency != nil && len(r.latency) < reportMaxPoints {
		r.latency = append(r.latency, [2]float64{t, *rec.app.latency})
	}
	if idx%r.stride != 0 {
		return
	}
	flags := rec.flags
	var preview, pl string
	switch {
	case rec.text:
		// Copies: a slice of the text would keep all of it.
		preview = string(cutRunes(payload, reportPreview))
		if r.payloads < reportPayloadTotal {
			pl = string(cutRunes(payload, reportPayload))
			r.payloads += len(pl)
		}
	case flags&16 != 0:
		want := reportPreview / 2
		if r.payloads < reportPayloadTotal {
			want = reportPayload
		}
		d := payload[:min(len(payload), want)]
		preview = hex.EncodeToString(d[:min(len(d), reportPreview/2)])
		if r.payloads < reportPayloadTotal {
			pl = hex.EncodeToString(d)
			r.payloads += len(pl)
		}
	case rec.closeCode != 0:
		preview = strconv.Itoa(rec.closeCode) + " " + rec.closeReason
		pl = preview
	}
	app := ""
	if rec.app != nil {
		app = rec.app.protocol + " " + rec.app.summary
	}
	r.msgs = append(r.msgs, repMsg{c.ID, t, from, rec.opcode, length, rec.wireLength, flags, preview, pl, app, idx, rec.pkt})
	if len(r.msgs) >= reportMaxMessages {
		// Keep every other one, and from now on every 2·stride-th: the
		// sample stays even over the whole capture.
		kept := r.msgs[:0]
		for _, m := range r.msgs {
			if m[10].(int64)%(2*r.stride) == 0 {
				kept = append(kept, m)
			}
		}
		r.msgs = kept
		r.stride *= 2
	}
}

func cutRunes[T string | []byte](s T, n int) T {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// reportData is the JSON document inside the page.
type reportData struct {
	Version     string           `json:"version"`
	Files       []string         `json:"files"`
	Start       string           `json:"start"`
	Span        float64          `json:"span"`
	Totals      any              `json:"totals"`
	Conns       []*repConn       `json:"conns"`
	ConnsTotal  int              `json:"conns_total"`
	DirMsgs     [2]int64         `json:"dir_msgs"` // over every connection, client and server
	DirBytes    [2]int64         `json:"dir_bytes"`
	Severity    [3]int64         `json:"severity"` // findings of the connections: error, warning, info
	Carriers    map[string]int   `json:"carriers"`
	Open        []int            `json:"open"` // WebSocket connections open per bucket
	BucketSec   int              `json:"bucket_sec"`
	Buckets     []repBucket      `json:"buckets"`
	SizeHist    [2][]int64       `json:"size_hist"`
	Latency     [][2]float64     `json:"latency"`
	Findings    []repFinding     `json:"findings"`
	FindingsAll int64            `json:"findings_total"`
	ByCode      map[string]int64 `json:"findings_by_code"`
	CloseCodes  map[string]int64 `json:"close_codes"`
	Messages    []repMsg         `json:"messages"`
	MsgTotal    int64            `json:"messages_total"`
	Stride      int64            `json:"stride"`
	PayloadCut  int              `json:"payload_cut"`
}

//go:embed report.html
var reportHTML string

// Close writes the page.
func (r *Report) Close() error {
	d := reportData{Version: r.version, Files: r.Files, Totals: r.Totals, BucketSec: int(r.bucketSec), Buckets: r.buckets, SizeHist: r.sizeHist,
		Latency: r.latency, Findings: r.findings, FindingsAll: r.fTotal, ByCode: r.byCode, CloseCodes: r.closeCode,
		Messages: r.msgs, MsgTotal: r.msgTotal, Stride: r.stride, PayloadCut: reportPayload}
	if r.started {
		d.Start = FormatTime(r.t0)
		d.Span = r.t1.Sub(r.t0).Seconds()
	}
	// The connections open at some time in each interval, from every
	// connection (a count per interval, not per second: bounded as the
	// intervals are).
	open := make([]int, len(r.buckets)+1)
	for _, id := range r.order {
		c := r.conns[id]
		a, b := max(0, int64(c.Start))/r.bucketSec, max(0, int64(max(c.End, c.Start)))/r.bucketSec
		if a < int64(len(open)) {
			open[a]++
		}
		if b+1 < int64(len(open)) {
			open[b+1]--
		}
	}
	for i := 1; i < len(open); i++ {
		open[i] += open[i-1]
	}
	d.Open = open[:len(r.buckets)]
	d.Carriers = map[string]int{}
	for _, id := range r.order {
		c := r.conns[id]
		d.Conns = append(d.Conns, c)
		for k := range 2 {
			d.DirMsgs[k] += c.Msgs[k]
			d.DirBytes[k] += c.Bytes[k]
		}
		for k := range 3 {
			d.Severity[k] += c.Findings[k]
		}
		d.Carriers[c.Carrier]++
	}
	d.ConnsTotal = len(d.Conns)
	if len(d.Conns) > reportMaxConns {
		// Those with findings first, then the busiest: the ones to look at.
		slices.SortStableFunc(d.Conns, func(a, b *repConn) int {
			fa, fb := a.Findings[0]*1e6+a.Findings[1]*1e3+a.Findings[2], b.Findings[0]*1e6+b.Findings[1]*1e3+b.Findings[2]
			if fa != fb {
				return int(fb - fa)
			}
			return int((b.Msgs[0] + b.Msgs[1]) - (a.Msgs[0] + a.Msgs[1]))
		})
		d.Conns = d.Conns[:reportMaxConns]
	}
	slices.SortStableFunc(d.Conns, func(a, b *repConn) int { return a.ID - b.ID })
	if d.Conns == nil {
		d.Conns = []*repConn{}
	}
	// Empty lists, not null: the page filters and maps them.
	if d.Messages == nil {
		d.Messages = []repMsg{}
	}
	if d.Findings == nil {
		d.Findings = []repFinding{}
	}
	if d.Latency == nil {
		d.Latency = [][2]float64{}
	}
	if d.Buckets == nil {
		d.Buckets = []repBucket{}
	}
	for k := range d.SizeHist {
		if d.SizeHist[k] == nil {
			d.SizeHist[k] = []int64{}
		}
	}
	if d.Files == nil {
		d.Files = []string{}
	}
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(true) // <, >, & as \u003c...: nothing ends the script element
	if err := enc.Encode(d); err != nil {
		return fmt.Errorf("output: report: %w", err)
	}
	title := "wscap report"
	if len(r.Files) > 0 {
		title += ": " + strings.Join(r.Files, ", ")
	}
	page := strings.Replace(reportHTML, "{{TITLE}}", htmlEscape(title), 1)
	before, after, _ := strings.Cut(page, "{{DATA}}")
	r.w.WriteString(before)
	r.w.Write(bytes.TrimSpace(data.Bytes()))
	r.w.WriteString(after)
	return r.w.Flush()
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;").Replace(s)
}

// Finish takes the run's totals record, shown in the overview.
func (r *Report) Finish(t *Totals) { r.Totals = t.Record }
