package main

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/spf13/pflag"
	"golang.org/x/net/bpf"

	"github.com/wscap/wscap/dissect"
	"github.com/wscap/wscap/dissect/app"
	"github.com/wscap/wscap/output"
	"github.com/wscap/wscap/pcap"
	"github.com/wscap/wscap/pcap/filter"
	"github.com/wscap/wscap/pipeline"
	"github.com/wscap/wscap/reassembly"
)

// pipelineFlags are the flags shared by every command that analyses traffic.
type pipelineFlags struct {
	command       string // the subcommand: it picks the formats (see formats)
	format        string
	frames        bool
	strict        bool
	maxMessage    int64
	maxFrame      uint64
	maxHandshake  int64
	maxAssembling int64
	maxHalfOpen   int
	inflateRatio  int
	inflateTotal  int64
	maxConns      int
	maxBufTotal   int64
	maxBuffered   int64
	idleTimeout   time.Duration
	wsPorts       []uint
	assumeExt     string
	assumeProto   string
	workers       int
	summary       bool
	raw           bool
	writePcap     string
	maxPayload    int
	hex           bool
	timeFormat    string
	color         string
	base          *time.Time // the run's first packet time, for --time relative
	connIDs       []int
	from          string
	opcodes       []string
	grep          string
	host, path    string
	findingsOnly  bool
	cpuProfile    string
	memProfile    string
	keylogs       []string
	followKeyLogs bool     // live: the key logs grow; re-read them as they do
	maxPackets    uint64   // -c: packets read over all inputs, 0 for all
	msg           int      // follow --msg
	msgOut        string   // follow --msg-out
	full          bool     // follow --full
	fileFilter    string   // -f on files
	reportOut     string   // report -o
	reportFiles   []string // report: the inputs, for the title
	app           []string // --app: NAME, or CONN=NAME
	appMaxBuffer  int64
	event, topic  string
	method        string
	sink          string             // --sink KIND=URL
	sinkPayload   bool               // --sink-payload
	sinkLive      bool               // live: the sink drops what it cannot send in time
	sinkInputs    []string           // the input files, for the sink's run id
	sinkOut       *output.ClickHouse // the --sink writer of the run, once made
	followOut     *output.Follow     // follow's writer, once made
}

// flagGroups says which of the pipeline's flags a subcommand takes: each
// lists and accepts only those that mean something to it.
type flagGroups struct {
	command string // the subcommand: --format offers its formats, when it has several
	view    bool   // the message table's own flags: --frames, --summary, --max-payload, --hex, --time, --color
	message bool   // message filters: --from, --opcode, --grep
	sink    bool   // --sink, --sink-payload
}

func (f *pipelineFlags) register(fs *pflag.FlagSet, g flagGroups) {
	f.command = g.command
	fmts := commandFormats(g.command)
	f.format = fmts[0].name
	if len(fmts) > 1 {
		fs.StringVar(&f.format, "format", f.format, "output format: "+formatNames(fmts, true))
	}
	if g.view {
		fs.BoolVar(&f.frames, "frames", false, "one row (or record) per frame instead of per message")
	}
	fs.BoolVar(&f.strict, "strict", false, "exit with status 1 when a finding of severity error was reported")
	sizeVar(fs, &f.maxMessage, "max-message", 64<<20, 1<<40, "payload bytes kept of one message (after decompression), e.g. 64MiB")
	f.maxFrame = 4 << 30
	fs.Var(usizeValue{&f.maxFrame}, "max-frame", "a frame header announcing more bytes is treated as garbage")
	fs.IntVar(&f.inflateRatio, "max-inflate-ratio", 100, "a connection's compressed messages may inflate to this many times their size (past its first 4MiB); beyond it they are not inflated (0: no bound)")
	sizeVar(fs, &f.inflateTotal, "max-inflate-total", 16<<30, 1<<50, "bytes decompression may create in the whole run; beyond it no message is inflated")
	sizeVar(fs, &f.maxHandshake, "max-handshake", 64<<10, 1<<30, "bytes of one HTTP head of the opening handshake")
	sizeVar(fs, &f.maxAssembling, "max-assembling", 256<<20, 1<<40, "payload bytes held by all messages still being assembled, in total")
	sizeVar(fs, &f.maxBufTotal, "max-buffered-total", 256<<20, 1<<40, "out-of-order TCP bytes buffered over all connections")
	fs.IntVar(&f.maxConns, "max-conns", 500000, "connections tracked at once; beyond it the quietest is ended")
	fs.IntVar(&f.maxHalfOpen, "max-half-open", 500000, "connections that have carried no byte yet (SYNs, scans) tracked at once, ~100 bytes each; beyond it the oldest is forgotten")
	sizeVar(fs, &f.maxBuffered, "max-buffered", 4<<20, 1<<40, "out-of-order TCP bytes buffered per connection")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", 0, "end connections idle this long (packet time); 0 = never")
	fs.UintSliceVar(&f.wsPorts, "ws-port", nil, "decode TCP port N as WebSocket even without a captured handshake (repeatable)")
	fs.StringVar(&f.assumeExt, "assume-extensions", "", `extensions the uncaptured handshakes negotiated, e.g. "permessage-deflate"`)
	fs.StringVar(&f.assumeProto, "assume-subprotocol", "", "subprotocol the uncaptured handshakes negotiated")
	if g.view {
		fs.BoolVar(&f.summary, "summary", false, "after the output, print the connection summary (as wscap stats) and the packet counters")
	}
	fs.IntSliceVar(&f.connIDs, "conn", nil, "show only these connections (numbers as printed), e.g. --conn 3,7")
	if g.message {
		fs.StringVar(&f.from, "from", "", "show only messages from client or server")
	}
	if g.message {
		fs.StringSliceVar(&f.opcodes, "opcode", nil, "show only messages of these opcodes: text,binary,ping,pong,close,continuation,0x3..")
	}
	if g.message {
		fs.StringVar(&f.grep, "grep", "", "show only text messages matching this regular expression (RE2)")
		fs.StringVar(&f.event, "event", "", "show only messages of Socket.IO events or GraphQL operations whose name matches this RE2")
		fs.StringVar(&f.topic, "topic", "", "show only messages of MQTT topics or STOMP destinations matching this RE2")
		fs.StringVar(&f.method, "method", "", "show only JSON-RPC messages whose method matches this RE2")
	}
	fs.StringSliceVar(&f.app, "app", nil, "application protocol decoding: auto (by subprotocol, path or the first messages), none, or one of "+strings.Join(app.Names(), ", ")+" for every connection; CONN=NAME (repeatable) for one connection, numbered as printed (this runs on one worker, so that the numbers are known while decoding)")
	sizeVar(fs, &f.appMaxBuffer, "app-max-buffer", 1<<20, 1<<30, "bytes of an unfinished MQTT packet or STOMP frame held across messages")
	fs.StringVar(&f.host, "host", "", `show only connections whose handshake Host is this ("*.example.com" for subdomains)`)
	fs.StringVar(&f.path, "path", "", "show only connections whose request target starts with this")
	fs.BoolVar(&f.findingsOnly, "findings-only", false, "show only findings")
	if g.view {
		fs.IntVar(&f.maxPayload, "max-payload", 0, "payload preview width in the table (0: fitted to the terminal, 60 otherwise)")
	}
	if g.view {
		fs.BoolVar(&f.hex, "hex", false, "show text payloads as hex too")
	}
	if g.view {
		fs.StringVar(&f.timeFormat, "time", "absolute", "times in the table: absolute (UTC) or relative (seconds since the first packet)")
	}
	if g.view {
		fs.StringVar(&f.color, "color", "auto", "colours: auto (on a terminal, unless NO_COLOR is set), always or never")
	}
	fs.StringVar(&f.writePcap, "write-pcap", "", "also write the packets of the connections shown (after filters) to this pcapng file")
	fs.IntVar(&f.workers, "workers", min(runtime.NumCPU(), 8), "connections are spread over this many goroutines (output does not depend on it)")
	fs.StringArrayVar(&f.keylogs, "keylog", nil, "decrypt TLS (wss://) with the secrets of this key log (SSLKEYLOGFILE format; repeatable)")
	if g.sink {
		fs.StringVar(&f.sink, "sink", "", "also write every record into ClickHouse: clickhouse=http://[user:password@]host:8123/DATABASE[?prefix=wscap_&SETTING=VALUE] (schema: docs/clickhouse.sql)")
		fs.BoolVar(&f.sinkPayload, "sink-payload", false, "with --sink: store message payloads too")
	}
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a heap profile to this file at the end")

}

func (f *pipelineFlags) dissectOptions() dissect.Options {
	for _, a := range f.app {
		if strings.Contains(a, "=") {
			f.workers = 1 // --app CONN=NAME: the numbers are known on one shard only
		}
	}
	payload := true
	if ft, err := f.outputFormat(); err == nil {
		payload = ft.payload
	}
	o := dissect.Options{MaxMessage: f.maxMessage, MaxFrame: f.maxFrame, MaxHandshake: int(f.maxHandshake), Frames: f.frames,
		MaxAssembling:   max(1, f.maxAssembling/int64(max(f.workers, 1))),
		MaxInflateRatio: cmp.Or(max(f.inflateRatio, 0), -1), MaxInflateTotal: max(1, f.inflateTotal/int64(max(f.workers, 1))),
		AssumeExtensions: f.assumeExt, AssumeSubprotocol: f.assumeProto,
		// stats shows no payload: uncompressed messages are measured, not kept.
		NoPayload: !payload && !f.frames && !statsKeepPayload && !f.sinkPayload}
	for _, p := range f.wsPorts {
		o.WSPorts = append(o.WSPorts, uint16(p))
	}
	o.AppMaxBuffer = int(f.appMaxBuffer)
	for _, a := range f.app { // checked by filter
		if id, name, ok := strings.Cut(a, "="); ok {
			n, _ := strconv.Atoi(id)
			if o.AppConn == nil {
				o.AppConn = map[int]string{}
			}
			o.AppConn[n] = name
			continue
		}
		switch a {
		case "", "auto":
		case "none":
			o.AppOff = true
		default:
			o.App, _ = app.ParseProtocol(a)
		}
	}
	return o
}

// statsKeepPayload makes stats keep payloads as read does (tests compare).
var statsKeepPayload = false

const readExamples = `  wscap read capture.pcap
  wscap read --format jsonl capture.pcapng | jq 'select(.kind=="message")'
  tcpdump -i any -w - 'tcp port 8080' | wscap read -
`

func runRead(args []string, e *env) int {
	fs := pflag.NewFlagSet("read", pflag.ContinueOnError)
	var pf pipelineFlags
	pf.register(fs, flagGroups{command: "read", view: true, message: true, sink: true})
	rfiles := readFileFlag(fs, &pf)
	if code, ok := parseFlags(fs, args, e, "wscap read [flags] FILE... (- for standard input)", readExamples); !ok {
		return code
	}
	files := append(*rfiles, fs.Args()...)
	if len(files) == 0 {
		e.errorf("read needs at least one capture file, or - for standard input")
		return exitError
	}
	streaming := slices.Contains(files, "-")
	inputs := fileInputs(files, e)
	pf.sinkInputs = files
	return analyse(e, &pf, inputs, streaming)
}

// input is one packet source of a run, opened when its turn comes.
type input struct {
	name string
	open func() (pcap.Source, error)
}

// analyse runs the pipeline over inputs, in order, as one run: connection
// numbers continue from one input to the next. streaming makes every
// record reach the output as soon as it is complete (standard input, live
// capture). It returns the exit status.
func analyse(e *env, pf *pipelineFlags, inputs []input, streaming bool) int {
	if pf.cpuProfile != "" {
		f, err := os.Create(pf.cpuProfile)
		if err != nil {
			e.errorf("%v", err)
			return exitError
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if pf.memProfile != "" {
		defer func() {
			if f, err := os.Create(pf.memProfile); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		}()
	}
	pf.base = new(time.Time)
	if pf.timeFormat == "relative" && len(inputs) > 1 {
		*pf.base = earliestPacket(inputs) // times count from the earliest packet of all files
	}
	w, err := newWriter(e, pf, len(inputs) > 1, streaming)
	if err != nil {
		e.errorf("%v", err)
		return exitError
	}
	filter, keepConn, err := pf.filter()
	if err != nil {
		e.errorf("%v", err)
		return exitError
	}
	if err := pf.check(inputs); err != nil {
		e.errorf("%v", err)
		return exitError
	}
	keylog, err := loadKeyLogs(e, pf.keylogs)
	if err != nil {
		e.errorf("%v", err)
		return exitError
	}
	keylog = embeddedSecrets(e, inputs, keylog)
	dopts := pf.dissectOptions()
	dopts.KeyLog = keylog
	if pf.followKeyLogs && keylog != nil {
		dopts.KeyLogGrows = true
		stop := followKeyLogs(e, pf.keylogs, keylog, 250*time.Millisecond)
		defer stop()
	}
	opts := pipeline.Options{Shards: pf.workers, Dissect: dopts,
		Reassembly: reassembly.Options{MaxBuffered: int(pf.maxBuffered), MaxBufferedTotal: int(max(1, pf.maxBufTotal/int64(max(pf.workers, 1)))), IdleTimeout: pf.idleTimeout, MaxConns: max(1, pf.maxConns/max(pf.workers, 1)),
			MaxHalfOpen: max(1, pf.maxHalfOpen/max(pf.workers, 1))},
		NewEncoder: func() output.Encoder { return output.Filtered(w.Encoder(), filter) }, Writer: w, Keep: keepConn, Base: pf.base}
	if streaming {
		opts.Batch = 1 // every packet's records reach the output at once
		opts.FlushWriter = true
	}
	// --write-pcap exports the connections whose records were written.
	var selected map[int]exportConn
	if pf.writePcap != "" {
		for _, inp := range inputs {
			if inp.name == "-" {
				e.errorf("--write-pcap reads the input twice: it needs files, not standard input")
				return exitError
			}
		}
		// A filter that selects messages: a connection needs one to be exported.
		msgFilter := filter.From != nil || len(filter.Opcodes) > 0 || filter.Grep != nil || filter.FindingsOnly
		selected = map[int]exportConn{}
		opts.OnRecord = func(kind dissect.Kind, id int, ci *dissect.ConnInfo) {
			if ci == nil || msgFilter && kind != dissect.KindMessage && kind != dissect.KindFrame && kind != dissect.KindFinding {
				return
			}
			if _, ok := selected[id]; !ok {
				selected[id] = exportConn{client: ci.Client, server: ci.Server, first: ci.First}
			}
		}
	}
	eng := pipeline.New(opts)
	status := exitOK
	left := pf.maxPackets
	for i, inp := range inputs {
		if pf.maxPackets > 0 && left == 0 {
			break
		}
		src, err := inp.open()
		if err != nil {
			e.errorf("%v", err)
			status = exitError
			continue
		}

		var prog *progress
		if f, ok := src.(*pcap.File); ok && f.Size() >= progressMinSize && !streaming {
			if tty, _ := terminal(e.stderr); tty {
				prog = startProgress(e.stderr, f.Size(), f.BytesRead, eng.PacketsRead, eng.MessagesDecoded)
			}
		}
		if is, ok := src.(pcap.IdleSetter); ok && streaming {
			// A live source says when it is idle: batch packets, and hand
			// a round over when the source is idle or its first packet is
			// 20 ms old, so output is never held back for long.
			eng.Stream(128, 20*time.Millisecond)
			is.SetIdle(eng.Flush)
		}
		var from pcap.Source = src
		if pf.fileFilter != "" {
			from = &filteredSource{Source: from, expr: pf.fileFilter, vms: map[layers.LinkType]*bpf.VM{}}
		}
		if pf.maxPackets > 0 {
			from = limitedSource{from, &left}
		}
		err = eng.ReadAll(from, i)
		if prog != nil {
			prog.end()
		}
		src.Close()
		if err != nil {
			e.errorf("%v", err)
			status = exitError
		}
		for _, lt := range eng.BadLinks() {
			e.errorf("%s: unsupported link type %s; its packets were not decoded", inp.name, lt)
			status = exitError
		}
		if eng.Stopped() {
			break
		}
	}
	eng.Finish()
	if err := eng.WriteErr(); err != nil {
		if pf.sinkOut != nil {
			if serr := pf.sinkOut.Close(); serr != nil {
				err = serr // the sink's error says what it wrote
			}
		}
		e.errorf("writing output: %v", err)
		return exitError
	}
	t := eng.Totals()
	if len(pf.connIDs) > 0 || pf.host != "" || pf.path != "" || pf.from != "" || len(pf.opcodes) > 0 || pf.grep != "" || pf.findingsOnly || pf.event != "" || pf.topic != "" || pf.method != "" {
		t.Findings = nil // counted over every connection, not only those shown
	}
	w.Finish(t.Output(pf.capNotes(t)))
	if err := w.Close(); err != nil {
		e.errorf("writing output: %v", err)
		return exitError
	}
	if pf.sinkOut != nil {
		reportSink(e, pf.sinkOut)
	}
	if f := pf.followOut; f != nil && followMissing(f, pf.msg) != "" && eng.Connections() >= 1 {
		e.errorf("%s", followMissing(f, pf.msg))
		status = exitError
	}
	if h := hint(t); h != "" && t.Packets.Read > 0 {
		e.errorf("%s", h)
	}
	for _, id := range pf.connIDs {
		if n := eng.Connections(); id < 1 || id > n {
			e.errorf("no connection %d (the capture has %d)", id, n)
			status = exitError
		}
	}
	if pf.writePcap != "" {
		var secrets bytes.Buffer
		keylog.WriteUsed(&secrets)
		if _, err := writePcap(pf.writePcap, inputs, selected, secrets.Bytes()); err != nil {
			e.errorf("--write-pcap: %v", err)
			return exitError
		}
	}
	if status == exitOK && pf.strict && eng.Errors() > 0 {
		return exitFindings
	}
	return status
}

// readFileFlag registers -r FILE, as tshark and tcpdump read a file (the
// same as naming it), and -c N, as they stop after N packets.
func readFileFlag(fs *pflag.FlagSet, pf *pipelineFlags) *[]string {
	var files []string
	fs.StringArrayVarP(&files, "read-file", "r", nil, "read this capture file (as tshark -r FILE); the same as naming it (repeatable)")
	fs.Uint64VarP(&pf.maxPackets, "count", "c", 0, "stop after reading N packets, over all inputs (0: no limit)")
	fs.StringVarP(&pf.fileFilter, "filter", "f", "", `read only the packets this capture filter accepts (as tcpdump -r FILE EXPR: "tcp port 8080", see wscap live --help)`)
	return &files
}

// filteredSource passes on only the packets a capture filter accepts,
// compiled for each link type met and run in x/net/bpf's VM.
type filteredSource struct {
	pcap.Source
	expr string
	vms  map[layers.LinkType]*bpf.VM
}

func (f *filteredSource) Next() (pcap.Record, error) {
	for {
		rec, err := f.Source.Next()
		if err != nil {
			return rec, err
		}
		vm, ok := f.vms[rec.LinkType]
		if !ok {
			prog, err := filter.Compile(f.expr, rec.LinkType, 1<<18)
			if err == nil {
				vm, err = bpf.NewVM(prog)
			}
			if err != nil {
				return pcap.Record{}, fmt.Errorf("-f %q: %w", f.expr, err)
			}
			f.vms[rec.LinkType] = vm
		}
		if n, err := vm.Run(rec.Data); err == nil && n > 0 {
			return rec, nil
		}
	}
}

// limitedSource ends its source once a run-wide packet budget is spent.
type limitedSource struct {
	pcap.Source
	left *uint64
}

func (l limitedSource) Next() (pcap.Record, error) {
	if *l.left == 0 {
		return pcap.Record{}, io.EOF
	}
	rec, err := l.Source.Next()
	if err == nil {
		*l.left--
	}
	return rec, err
}

// check refuses flag values that would do harm or be silently ignored:
// a --write-pcap file that is one of the inputs (it would be truncated
// before it is read), and --assume-extensions that do not parse or name no
// extension wscap decodes.
func (f *pipelineFlags) check(inputs []input) error {
	if f.writePcap != "" {
		if out, err := os.Stat(f.writePcap); err == nil {
			for _, inp := range inputs {
				if in, err := os.Stat(inp.name); err == nil && os.SameFile(in, out) {
					return fmt.Errorf("--write-pcap %s is one of the inputs: it would be overwritten before it is read", f.writePcap)
				}
			}
		}
	}
	if f.fileFilter != "" {
		if _, err := filter.Compile(f.fileFilter, layers.LinkTypeEthernet, 1<<18); err != nil {
			return fmt.Errorf("-f: %w", err)
		}
	}
	if f.assumeExt != "" {
		exts, err := dissect.ParseExtensions([]string{f.assumeExt})
		if err != nil {
			return fmt.Errorf("--assume-extensions %q: %v", f.assumeExt, err)
		}
		for _, x := range exts {
			switch strings.ToLower(x.Name) {
			case "permessage-deflate", "x-webkit-deflate-frame":
			default:
				return fmt.Errorf("--assume-extensions: %q is not an extension wscap decodes (permessage-deflate, x-webkit-deflate-frame)", x.Name)
			}
		}
	}
	return nil
}

// earliestPacket returns the earliest first-packet time of the input files
// (standard input is not read ahead), zero when none has a packet.
func earliestPacket(inputs []input) time.Time {
	var first time.Time
	for _, inp := range inputs {
		if inp.name == "-" {
			continue
		}
		src, err := inp.open()
		if err != nil {
			continue
		}
		if rec, err := src.Next(); err == nil && (first.IsZero() || rec.TS.Before(first)) {
			first = rec.TS
		}
		src.Close()
	}
	return first
}
