package output

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/base64"
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
func (r *Report) Encoder() Encoder { return &JSONLEncoder{} }

// reportHead is what every message record gives the report; the payload
// is decoded (reportPayloadRec) only for the messages kept.
type reportHead struct {
	TS          string `json:"ts"`
	Pkt         uint64 `json:"pkt"`
	From        string `json:"from"`
	Opcode      string `json:"opcode"`
	Length      *int64 `json:"length"`
	WireLength  int64  `json:"wire_length"`
	Compressed  bool   `json:"compressed"`
	Truncated   bool   `json:"truncated"`
	Incomplete  bool   `json:"incomplete"`
	Undecodable bool   `json:"undecodable"`
	App         *struct {
		Protocol  string   `json:"protocol"`
		Summary   string   `json:"summary"`
		LatencyMS *float64 `json:"latency_ms"`
	} `json:"app"`
}

type reportPayloadRec struct {
	Text        *string `json:"text"`
	CloseCode   int     `json:"close_code"`
	CloseReason *string `json:"close_reason"`
}

// dataPrefix returns the first n bytes of a record's base64 "data"
// member, decoding no more of it than that (binary messages can be
// megabytes), and whether it has one.
func dataPrefix(body []byte, n int) ([]byte, bool) {
	const key = `,"data":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return nil, false
	}
	s := body[i+len(key):]
	j := bytes.IndexByte(s, '"')
	if j < 0 {
		return nil, false
	}
	s = s[:j]
	if enc := (n + 2) / 3 * 4; len(s) > enc {
		s = s[:enc]
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	k, _ := base64.StdEncoding.Decode(out, s)
	return out[:min(k, n)], true
}

type reportRecord struct {
	MessageRecord
	Client, Server      string
	Captured            bool
	Status              int
	Method, Path, Host  string
	Subprotocol         string
	Extensions          []string
	TLS                 *TLSRecord
	Code, Severity, RFC string
	Detail              string
	DurationSec         float64        `json:"duration"`
	End                 string         `json:"end"`
	ClientSent          DirRecord      `json:"client_sent"`
	ServerSent          DirRecord      `json:"server_sent"`
	ConnRTT             *RTTRecord     `json:"rtt"`
	ConnApp             *AppConnRecord `json:"app"`
	Findings            map[string]int `json:"findings"`
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

// WriteRecord takes one record (a JSON Lines body).
func (r *Report) WriteRecord(e *Encoded) error {
	kind, conn, body := e.Kind, e.Conn, e.Bytes
	full := append(append(r.scratch[:0], '{'), body[1:]...) // the body starts with ,"ts":
	r.scratch = full
	conns := func(t float64) *repConn {
		c := r.conns[conn]
		if c == nil && conn > 0 {
			c = &repConn{ID: conn, Start: t}
			r.conns[conn] = c
			r.order = append(r.order, conn)
		}
		return c
	}
	if kind == dissect.KindMessage {
		var h reportHead
		if err := json.Unmarshal(full, &h); err != nil {
			return fmt.Errorf("output: report: %w", err)
		}
		ts, _ := time.Parse(time.RFC3339Nano, h.TS)
		t := r.seconds(ts)
		r.message(conns(t), t, &h, full)
		return nil
	}
	var rec reportRecord
	if err := json.Unmarshal(full, &rec); err != nil {
		return fmt.Errorf("output: report: %w", err)
	}
	ts, _ := time.Parse(time.RFC3339Nano, rec.TS)
	t := r.seconds(ts)
	c := conns(t)
	switch kind {
	case dissect.KindHandshake:
		c.Client, c.Server, c.Host, c.Path, c.Sub, c.Status = rec.Client, rec.Server, rec.Host, rec.Path, rec.Subprotocol, rec.Status
		c.Ext = strings.Join(rec.Extensions, ", ")
		c.H2Stream = rec.H2Stream
		switch {
		case rec.TLS != nil && rec.H2Stream != 0:
			c.Carrier = "h2+tls"
		case rec.H2Stream != 0:
			c.Carrier = "h2"
		case rec.TLS != nil:
			c.Carrier = "wss"
		default:
			c.Carrier = "ws"
		}
		if !rec.Captured {
			c.Carrier += " (handshake not captured)"
		}
	case dissect.KindFinding:
		r.fTotal++
		r.byCode[rec.Code]++
		if len(r.findings) < reportMaxFindings {
			r.findings = append(r.findings, repFinding{Code: rec.Code, Severity: rec.Severity, RFC: rec.RFC, From: rec.From,
				Detail: rec.Detail, Conn: conn, T: t, Pkt: rec.Pkt, Msg: r.msgTotal - 1})
		}
	case dissect.KindConnection:
		if c == nil {
			return nil
		}
		if c.Client == "" {
			c.Client, c.Server = rec.Client, rec.Server
		}
		c.End, c.Duration, c.Ended = t, rec.DurationSec, rec.End
		s := [2]*DirRecord{&rec.ClientSent, &rec.ServerSent}
		for d := range 2 {
			c.Msgs[d], c.Bytes[d], c.Wire[d] = s[d].Messages, s[d].Bytes, s[d].WireBytes
			c.compressed += s[d].Compressed
		}
		if c.compressed > 0 && c.Wire[0]+c.Wire[1] > 0 {
			c.Ratio = math.Round(float64(c.Bytes[0]+c.Bytes[1])/float64(c.Wire[0]+c.Wire[1])*100) / 100
		}
		c.RTT = rec.ConnRTT
		var cl []string
		for d, who := range []string{"client", "server"} {
			if s[d].CloseCode != 0 {
				cl = append(cl, who+" "+strconv.Itoa(s[d].CloseCode))
				r.closeCode[strconv.Itoa(s[d].CloseCode)]++
			}
		}
		c.Close = strings.Join(cl, ", ")
		c.Findings = [3]int64{int64(rec.Findings["error"]), int64(rec.Findings["warning"]), int64(rec.Findings["info"])}
		if a := rec.ConnApp; a != nil {
			c.App = a.Protocol
			var top []string
			for _, nc := range a.Top {
				top = append(top, fmt.Sprintf("%v ×%v", nc[0], nc[1]))
			}
			c.AppTop = strings.Join(top, ", ")
		}
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

func (r *Report) message(c *repConn, t float64, rec *reportHead, full []byte) {
	idx := r.msgTotal
	r.msgTotal++
	from := 0
	if rec.From == "server" {
		from = 1
	}
	length := rec.WireLength
	if rec.Length != nil {
		length = *rec.Length
	}
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
	if rec.App != nil && rec.App.LatencyMS != nil && len(r.latency) < reportMaxPoints {
		r.latency = append(r.latency, [2]float64{t, *rec.App.LatencyMS})
	}
	if idx%r.stride != 0 {
		return
	}
	flags := 0
	for i, on := range []bool{rec.Compressed, rec.Truncated, rec.Incomplete, rec.Undecodable} {
		if on {
			flags |= 1 << i
		}
	}
	var pl reportPayloadRec
	if err := json.Unmarshal(full, &pl); err != nil {
		return
	}
	var preview, payload string
	switch rec := &pl; {
	case rec.Text != nil:
		// Copies: a slice of the decoded text would keep all of it.
		preview = strings.Clone(cutRunes(*rec.Text, reportPreview))
		if r.payloads < reportPayloadTotal {
			payload = strings.Clone(cutRunes(*rec.Text, reportPayload))
			r.payloads += len(payload)
		}
	case func() bool { _, ok := dataPrefix(full, 0); return ok }():
		flags |= 16
		want := reportPreview / 2
		if r.payloads < reportPayloadTotal {
			want = reportPayload
		}
		d, _ := dataPrefix(full, want)
		preview = hex.EncodeToString(d[:min(len(d), reportPreview/2)])
		if r.payloads < reportPayloadTotal {
			payload = hex.EncodeToString(d)
			r.payloads += len(payload)
		}
	case rec.CloseCode != 0:
		reason := ""
		if rec.CloseReason != nil {
			reason = *rec.CloseReason
		}
		preview = strconv.Itoa(rec.CloseCode) + " " + reason
		payload = preview
	}
	app := ""
	if rec.App != nil {
		app = rec.App.Protocol + " " + rec.App.Summary
	}
	r.msgs = append(r.msgs, repMsg{c.ID, t, from, rec.Opcode, length, rec.WireLength, flags, preview, payload, app, idx, rec.Pkt})
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

func cutRunes(s string, n int) string {
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
