package main

import (
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wscap/wscap/dissect"
	"github.com/wscap/wscap/dissect/app"
	"github.com/wscap/wscap/output"
	"github.com/wscap/wscap/pipeline"
)

// capNotes says which run-wide caps the run hit and the flags that set
// them, one line each.
func (f *pipelineFlags) capNotes(t *pipeline.Totals) []string {
	var s []string
	if t.Evicted > 0 {
		s = append(s, fmt.Sprintf("--max-conns: %d connections were ended to make room; %d of their packets came after and were counted, not decoded", t.Evicted, t.AfterEviction))
	}
	if t.HalfOpenForgotten > 0 {
		s = append(s, fmt.Sprintf("--max-half-open: %d connections that had carried no byte (a SYN flood or a scan?) were forgotten to make room; any that carried data later was followed from there, as if mid-stream", t.HalfOpenForgotten))
	}
	capFlags := f.capFlags()
	codes := slices.Sorted(maps.Keys(capFlags))
	for _, code := range codes {
		if t.Findings[code] > 0 {
			s = append(s, fmt.Sprintf("%s: %s", code, capFlags[code]))
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

// hint says what to try when no WebSocket was found, or "" when one was.
func hint(t *pipeline.Totals) string {
	if t.Conns > 0 || t.Rejected > 0 {
		return ""
	}
	msg := "no WebSocket found; the TCP connections were: " + t.Describe()
	switch {
	case t.TLSNoKey > 0 && len(t.NoKeyRandoms) == 0:
		msg += fmt.Sprintf(". %d TLS connections had no secret in the key log: their handshakes were not captured, and none of its TLS 1.3 traffic secrets opened their first records", t.TLSNoKey)
	case t.TLSNoKey > 0:
		msg += fmt.Sprintf(". %d TLS connections had no secret in the key log (client randoms %s)", t.TLSNoKey, strings.Join(t.NoKeyRandoms, ", "))
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
		// Streaming output is flushed by the engine once it has written
		// what it has (pipeline.Options.FlushWriter), not per record.
		return output.NewJSONL(e.stdout, multiFile, false), nil
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
	// Live and standard input: rows are flushed by the engine once it has
	// written what it has (pipeline.Options.FlushWriter).
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
