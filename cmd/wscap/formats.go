package main

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wscap/wscap/dissect"
	"github.com/wscap/wscap/dissect/app"
	"github.com/wscap/wscap/output"
	"github.com/wscap/wscap/pcap/defrag"
	"github.com/wscap/wscap/pipeline"
)

// totals is what a run counted: every packet read, the WebSocket
// connections that opened, what the TCP connections carried, and IP
// reassembly when there were fragments.
type totals struct {
	Kind     string            `json:"kind"`
	Packets  pipeline.Counters `json:"packets"`
	Conns    int64             `json:"websocket_connections"`
	Rejected int64             `json:"rejected_upgrades"`
	// H2WebSockets counts the WebSockets over HTTP/2 streams (also in
	// websocket_connections), H2OtherStreams the other HTTP/2 streams.
	H2WebSockets   int64 `json:"h2_websockets,omitempty"`
	H2OtherStreams int64 `json:"h2_other_streams,omitempty"`
	// H2Undecoded counts the HTTP/2 streams whose headers could not be
	// decoded after loss: not attributed.
	H2Undecoded int64          `json:"h2_undecoded_streams,omitempty"`
	Protocols   protocolCounts `json:"protocols"`
	// ServerNames counts the TLS connections by the server name of their
	// ClientHello (SNI); "" holds those without one, "(more)" those past
	// dissect.MaxServerNames names.
	ServerNames map[string]int64 `json:"tls_server_names,omitempty"`
	// With --keylog: the TLS connections decrypted, and those the key
	// log had no secret for.
	TLSDecrypted int64 `json:"tls_decrypted,omitempty"`
	TLSNoKey     int64 `json:"tls_no_key,omitempty"`
	// What the TLS hellos chose, counted by name (see dissect.Census).
	TLSVersions     map[string]int64 `json:"tls_versions,omitempty"`
	TLSCipherSuites map[string]int64 `json:"tls_cipher_suites,omitempty"`
	TLSALPN         map[string]int64 `json:"tls_alpn,omitempty"`
	noKey           []string
	findings        map[dissect.Code]int64
	Defrag          *defrag.Stats `json:"ip_defrag,omitempty"`
	// TimeBackwards counts the packets stamped earlier than the packet
	// before them in their file (merged or clock-adjusted captures).
	TimeBackwards int64 `json:"timestamps_backwards,omitempty"`
	span          time.Duration
	// Evicted counts the connections --max-conns ended, AfterEviction
	// their packets that came after (counted with them, not decoded).
	Evicted       int64 `json:"evicted_connections,omitempty"`
	AfterEviction int64 `json:"packets_after_eviction,omitempty"`
	// HalfOpenForgotten counts the connections that had carried no byte
	// (a SYN flood, a scan) forgotten to stay within --max-half-open.
	HalfOpenForgotten int64 `json:"half_open_forgotten,omitempty"`
	// capFlags says, per cap finding code, which flag set that cap and,
	// where the run split it over the workers, each one's share.
	capFlags map[dissect.Code]string
}

// capNotes says which run-wide caps were hit, one line each.
func (t *totals) capNotes() []string {
	var s []string
	if t.Evicted > 0 {
		s = append(s, fmt.Sprintf("--max-conns: %d connections were ended to make room; %d of their packets came after and were counted, not decoded", t.Evicted, t.AfterEviction))
	}
	if t.HalfOpenForgotten > 0 {
		s = append(s, fmt.Sprintf("--max-half-open: %d connections that had carried no byte (a SYN flood or a scan?) were forgotten to make room; any that carried data later was followed from there, as if mid-stream", t.HalfOpenForgotten))
	}
	codes := slices.Sorted(maps.Keys(t.capFlags))
	for _, code := range codes {
		if t.findings[code] > 0 {
			s = append(s, fmt.Sprintf("%s: %s", code, t.capFlags[code]))
		}
	}
	return s
}

// capFlags names, for each cap finding, the flag that set the cap and
// each worker's share of those the run split over its workers (the
// findings' texts give the share a worker hit).
func (f *pipelineFlags) capFlags() map[dissect.Code]string {
	w := int64(max(f.workers, 1))
	split := func(flag string, v int64, size bool) string {
		str := func(n int64) string {
			if size {
				return formatSize(n)
			}
			return strconv.FormatInt(n, 10)
		}
		if w == 1 {
			return fmt.Sprintf("%s %s", flag, str(v))
		}
		return fmt.Sprintf("%s %s, split over %d workers: %s each", flag, str(v), w, str(max(1, v/w)))
	}
	return map[dissect.Code]string{
		dissect.CodeMessageCapped:  fmt.Sprintf("the message cap is --max-message %s", formatSize(f.maxMessage)),
		dissect.CodeFrameCapped:    fmt.Sprintf("the frame cap is --max-frame %s", formatSize(int64(min(f.maxFrame, math.MaxInt64)))),
		dissect.CodeAssemblyCapped: "the assembling cap is " + split("--max-assembling", f.maxAssembling, true),
		dissect.CodeBufferCapped:   fmt.Sprintf("the out-of-order buffers are --max-buffered %s per connection and ", formatSize(f.maxBuffered)) + split("--max-buffered-total", f.maxBufTotal, true),
		dissect.CodeConnsCapped:    "the connection cap is " + split("--max-conns", int64(f.maxConns), false),
		dissect.CodeInflateCapped:  fmt.Sprintf("the inflate caps are --max-inflate-ratio %d per connection and ", f.inflateRatio) + split("--max-inflate-total", f.inflateTotal, true),
	}
}

// protocolCounts is the number of TCP connections per protocol.
type protocolCounts struct {
	WebSocket int64 `json:"websocket"`
	TLS       int64 `json:"tls"`
	HTTP      int64 `json:"http"`
	HTTP2     int64 `json:"http2"`
	Other     int64 `json:"other"`
}

func newTotals(c pipeline.Counters, cs *dissect.Census) totals {
	p := &cs.Protocols
	t := totals{Kind: "totals", Packets: c, Conns: p[dissect.ProtoWebSocket] + cs.H2WebSockets, Rejected: cs.Rejected, H2WebSockets: cs.H2WebSockets, H2OtherStreams: cs.H2OtherStreams, H2Undecoded: cs.H2Undecoded, TLSDecrypted: cs.TLSDecrypted, TLSNoKey: cs.TLSNoKey, noKey: cs.NoKeyRandoms,
		TLSVersions: cs.TLSVersions, TLSCipherSuites: cs.TLSCipherSuites, TLSALPN: cs.TLSALPN, findings: cs.Findings,
		Protocols: protocolCounts{WebSocket: p[dissect.ProtoWebSocket], TLS: p[dissect.ProtoTLS], HTTP: p[dissect.ProtoHTTP], HTTP2: p[dissect.ProtoHTTP2], Other: p[dissect.ProtoOther]}}
	if p[dissect.ProtoTLS] > 0 {
		t.ServerNames = maps.Clone(cs.ServerNames)
		if t.ServerNames == nil {
			t.ServerNames = map[string]int64{}
		}
		if cs.NoName > 0 {
			t.ServerNames[""] = cs.NoName
		}
		if cs.MoreNames > 0 {
			t.ServerNames["(more)"] = cs.MoreNames
		}
	}
	return t
}

// describe says in one line what the TCP connections were: "1 websocket,
// 3 tls (SNI chat.example.com), 2 other".
func (t *totals) describe() string {
	var parts []string
	p := t.Protocols
	for _, x := range []struct {
		name string
		n    int64
	}{{"websocket", p.WebSocket}, {"tls", p.TLS}, {"http", p.HTTP}, {"http2", p.HTTP2}, {"other", p.Other}} {
		if x.n == 0 {
			continue
		}
		s := fmt.Sprintf("%d %s", x.n, x.name)
		switch {
		case x.name == "tls":
			s += " (" + t.serverNames(5) + ")"
		case x.name == "http" && t.Rejected > 0:
			s += fmt.Sprintf(" (%d WebSocket upgrade%s refused, unanswered or malformed)", t.Rejected, plural(t.Rejected))
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "no TCP connections"
	}
	return strings.Join(parts, ", ")
}

// serverNames lists up to n server names, most connections first.
func (t *totals) serverNames(n int) string {
	names := slices.Collect(maps.Keys(t.ServerNames))
	slices.SortFunc(names, func(a, b string) int {
		if c := cmp.Compare(t.ServerNames[b], t.ServerNames[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	var out []string
	for i, name := range names {
		if i == n {
			out = append(out, fmt.Sprintf("and %d more", len(names)-n))
			break
		}
		label := name
		if name == "" {
			label = "no SNI"
		}
		if c := t.ServerNames[name]; c > 1 {
			label += fmt.Sprintf(" ×%d", c)
		}
		out = append(out, label)
	}
	if len(out) > 0 && names[0] != "" {
		return "SNI " + strings.Join(out, ", ")
	}
	return strings.Join(out, ", ")
}

// hint says what to try when no WebSocket was found, or "" when one was.
func (t *totals) hint() string {
	if t.Conns > 0 || t.Rejected > 0 {
		return ""
	}
	msg := "no WebSocket found; the TCP connections were: " + t.describe()
	switch {
	case t.TLSNoKey > 0 && len(t.noKey) == 0:
		msg += fmt.Sprintf(". %d TLS connections had no secret in the key log: their handshakes were not captured, and none of its TLS 1.3 traffic secrets opened their first records", t.TLSNoKey)
	case t.TLSNoKey > 0:
		msg += fmt.Sprintf(". %d TLS connections had no secret in the key log (client randoms %s)", t.TLSNoKey, strings.Join(t.noKey, ", "))
	case t.Protocols.TLS > 0 && t.TLSDecrypted == 0:
		msg += ". wss:// runs inside TLS: decrypt it with --keylog FILE (the key log a browser writes with SSLKEYLOGFILE)"
	case t.Protocols.Other > 0:
		msg += ". A WebSocket whose opening handshake was not captured is decoded with --ws-port PORT"
	}
	return msg
}

// format is one output format of a subcommand: a row of formats.
type format struct {
	name     string // the --format value
	commands string // the subcommands that offer it, space-separated
	help     string // said after the name in --format's help ("" for nothing)
	// payload says whether the format shows message payloads; without,
	// uncompressed messages are measured, not kept.
	payload bool
	// summary says whether --summary may add the connection summary.
	summary bool
	new     func(e *env, pf *pipelineFlags, multiFile, streaming bool) (output.Writer, error)
}

// formats are the output formats, by subcommand. A subcommand with one
// format offers no --format; its first is the default. --format's help,
// its check and the writer all come from here: a new format is a file in
// output/ and a row.
var formats = []format{
	{name: "table", commands: "read live", payload: true, summary: true, new: newTable},
	{name: "jsonl", commands: "read live", payload: true, new: func(e *env, pf *pipelineFlags, multiFile, streaming bool) (output.Writer, error) {
		return output.NewJSONL(e.stdout, multiFile, streaming), nil
	}},
	{name: "har", commands: "read", help: "HAR 1.2 with _webSocketMessages", payload: true, new: func(e *env, pf *pipelineFlags, multiFile, streaming bool) (output.Writer, error) {
		return output.NewHAR(e.stdout, version), nil
	}},
	{name: "table", commands: "stats", new: func(e *env, pf *pipelineFlags, multiFile, streaming bool) (output.Writer, error) {
		st := output.NewStats(e.stdout, false)
		_, st.Width = terminal(e.stdout)
		return st, nil
	}},
	{name: "jsonl", commands: "stats", new: func(e *env, pf *pipelineFlags, multiFile, streaming bool) (output.Writer, error) {
		st := output.NewStats(e.stdout, true)
		st.MultiFile = multiFile
		return st, nil
	}},
	{name: "text", commands: "follow", payload: true, new: newFollow},
	{name: "html", commands: "report", payload: true, new: newReport},
}

// commandFormats returns the formats a subcommand offers.
func commandFormats(command string) []format {
	var fs []format
	for _, f := range formats {
		if slices.Contains(strings.Fields(f.commands), command) {
			fs = append(fs, f)
		}
	}
	return fs
}

// formatNames lists the names of fs: "table, jsonl or har", each followed
// by its help in brackets when it has one.
func formatNames(fs []format, help bool) string {
	var s string
	for i, f := range fs {
		switch {
		case i == 0:
		case i == len(fs)-1:
			s += " or "
		default:
			s += ", "
		}
		s += f.name
		if help && f.help != "" {
			s += " (" + f.help + ")"
		}
	}
	return s
}

// outputFormat returns the row of --format for the subcommand.
func (f *pipelineFlags) outputFormat() (*format, error) {
	fs := commandFormats(f.command)
	for i := range fs {
		if fs[i].name == f.format {
			return &fs[i], nil
		}
	}
	return nil, fmt.Errorf("unknown --format %q: use %s", f.format, formatNames(fs, false))
}

// newWriter returns the writer for --format, with --summary and --sink
// added.
func newWriter(e *env, pf *pipelineFlags, multiFile, streaming bool) (output.Writer, error) {
	f, err := pf.outputFormat()
	if err != nil {
		return nil, err
	}
	w, err := f.new(e, pf, multiFile, streaming)
	if err != nil {
		return nil, err
	}
	if pf.summary {
		if !f.summary {
			return nil, fmt.Errorf("--summary adds the connection summary to the table; with --format %s the connection records carry it", pf.format)
		}
		// The summary prints when it closes, after the table closed.
		w = &output.Tee{A: w, B: output.NewStats(e.stdout, false)}
	}
	if pf.sink != "" {
		s, err := newSink(pf)
		if err != nil {
			return nil, err
		}
		pf.sinkOut = s
		w = &output.Tee{A: w, B: s}
	}
	return w, nil
}

func newTable(e *env, pf *pipelineFlags, multiFile, streaming bool) (output.Writer, error) {
	opts, err := pf.tableOptions(e)
	if err != nil {
		return nil, err
	}
	opts.Flush = streaming // live and standard input: every row as soon as it is complete
	return output.NewTable(e.stdout, opts), nil
}

func newFollow(e *env, pf *pipelineFlags, multiFile, streaming bool) (output.Writer, error) {
	f := output.NewFollow(e.stdout, pf.raw)
	f.Msg, f.Full = pf.msg, pf.full
	pf.followOut = f
	if pf.msgOut == "" {
		return f, nil
	}
	out, err := os.Create(pf.msgOut)
	if err != nil {
		return nil, fmt.Errorf("--msg-out: %w", err)
	}
	f.MsgOut = out
	return &closing{f, out}, nil
}

func newReport(e *env, pf *pipelineFlags, multiFile, streaming bool) (output.Writer, error) {
	out, err := os.Create(pf.reportOut)
	if err != nil {
		return nil, fmt.Errorf("-o: %w", err)
	}
	r := output.NewReport(out, version)
	for _, name := range pf.reportFiles {
		r.Files = append(r.Files, filepath.Base(name))
	}
	return &closing{r, out}, nil
}

// closing is a writer to a file it closes after the writer.
type closing struct {
	output.Writer
	f *os.File
}

func (c *closing) Close() error {
	err := c.Writer.Close()
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// followMissing says why follow --msg found nothing, "" when it did.
func followMissing(f *output.Follow, msg int) string {
	if msg > 0 && f.Messages() < msg {
		return fmt.Sprintf("no message %d (the connection has %d)", msg, f.Messages())
	}
	return ""
}

// output returns the totals as the writers finish with them.
func (t *totals) output() *output.Totals {
	return &output.Totals{Record: *t, Span: t.span, Lines: t.lines(), Caps: t.capNotes(), Findings: t.findings}
}

// lines says in words what the run counted, for the foot of stats.
func (t *totals) lines() []string {
	c := t.Packets
	s := []string{fmt.Sprintf("packets: %d read = %d websocket + %d other TCP + %d not TCP + %d undecodable + %d IP fragments; %d WebSocket connections",
		c.Read, c.WebSocket, c.OtherTCP, c.NotTCP, c.Undecodable, c.Fragments, t.Conns)}
	s = append(s, "TCP connections: "+t.describe())
	if len(t.TLSVersions) > 0 || len(t.TLSALPN) > 0 {
		s = append(s, "TLS hellos: "+countsText(t.TLSVersions)+"; "+countsText(t.TLSCipherSuites)+"; ALPN "+countsText(t.TLSALPN))
	}
	if t.TLSDecrypted > 0 || t.TLSNoKey > 0 {
		s = append(s, fmt.Sprintf("TLS: %d connections decrypted with the key log, %d without a secret in it", t.TLSDecrypted, t.TLSNoKey))
	}
	s = append(s, t.capNotes()...)
	if t.TimeBackwards > 0 {
		s = append(s, fmt.Sprintf("timestamps: %d packets are stamped earlier than the packet before them; wscap keeps the capture's order and counts those steps as no time", t.TimeBackwards))
	}
	return s
}

// tableOptions reads the table's flags and looks at the terminal.
func (f *pipelineFlags) tableOptions(e *env) (output.TableOptions, error) {
	tty, width := terminal(e.stdout)
	o := output.TableOptions{Frames: f.frames, MaxPayload: f.maxPayload, Hex: f.hex, Width: width}
	switch f.color {
	case "auto":
		o.Color = tty && os.Getenv("NO_COLOR") == ""
	case "always":
		o.Color = true
	case "never":
	default:
		return o, fmt.Errorf("--color must be auto, always or never, not %q", f.color)
	}
	switch f.timeFormat {
	case "absolute":
	case "relative":
		o.Base = f.base
	default:
		return o, fmt.Errorf("--time must be absolute or relative, not %q", f.timeFormat)
	}
	return o, nil
}

// filter builds the display filter from the flags, and the filter on
// connection numbers that the merger applies.
func (f *pipelineFlags) filter() (*output.Filter, func(int) bool, error) {
	flt := &output.Filter{Host: f.host, Path: f.path, FindingsOnly: f.findingsOnly}
	switch f.from {
	case "":
	case "client", "server":
		d := dissect.ClientToServer
		if f.from == "server" {
			d = dissect.ServerToClient
		}
		flt.From = &d
	default:
		return nil, nil, fmt.Errorf("--from must be client or server, not %q", f.from)
	}
	for _, name := range f.opcodes {
		op, ok := dissect.ParseOpcode(name)
		if !ok {
			return nil, nil, fmt.Errorf("--opcode: unknown opcode %q", name)
		}
		flt.Opcodes = append(flt.Opcodes, op)
	}
	if f.grep != "" {
		re, err := regexp.Compile(f.grep)
		if err != nil {
			return nil, nil, fmt.Errorf("--grep: %v", err)
		}
		flt.Grep = re
	}
	for _, x := range []struct {
		flag, expr string
		dst        **regexp.Regexp
	}{{"--event", f.event, &flt.Event}, {"--topic", f.topic, &flt.Topic}, {"--method", f.method, &flt.Method}} {
		if x.expr == "" {
			continue
		}
		re, err := regexp.Compile(x.expr)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", x.flag, err)
		}
		*x.dst = re
	}
	for _, a := range f.app {
		id, name, perConn := strings.Cut(a, "=")
		if !perConn {
			name = a
		} else if n, err := strconv.Atoi(id); err != nil || n <= 0 {
			return nil, nil, fmt.Errorf("--app %q: CONN=NAME takes a connection number, not %q", a, id)
		}
		if _, ok := app.ParseProtocol(name); !ok && name != "auto" && name != "none" {
			return nil, nil, fmt.Errorf("--app: unknown protocol %q (auto, none, %s)", name, strings.Join(app.Names(), ", "))
		}
	}
	var keep func(int) bool
	if len(f.connIDs) > 0 {
		ids := slices.Clone(f.connIDs)
		keep = func(id int) bool { return slices.Contains(ids, id) }
	}
	return flt, keep, nil
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// countsText lists counts by name, most first: "TLS 1.3 ×60, TLS 1.2 ×4".
func countsText(m map[string]int64) string { return output.CountsText(m) }
