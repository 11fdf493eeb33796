package main

import (
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/pflag"

	"github.com/wscap/wscap/dissect"
	"github.com/wscap/wscap/output"
	"github.com/wscap/wscap/pcap"
	"github.com/wscap/wscap/reassembly"
)

// pipelineFlags are the flags shared by every command that analyses traffic.
type pipelineFlags struct {
	format       string
	frames       bool
	strict       bool
	maxMessage   int64
	maxFrame     uint64
	maxHandshake int
	maxBuffered  int
	idleTimeout  time.Duration
	wsPorts      []uint
	assumeExt    string
	assumeProto  string
	cpuProfile   string
	memProfile   string
}

func (f *pipelineFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.format, "format", "table", "output format: table or jsonl")
	fs.BoolVar(&f.frames, "frames", false, "one row (or record) per frame instead of per message")
	fs.BoolVar(&f.strict, "strict", false, "exit with status 1 when a finding of severity error was reported")
	fs.Int64Var(&f.maxMessage, "max-message", 64<<20, "payload bytes kept of one message (after decompression)")
	fs.Uint64Var(&f.maxFrame, "max-frame", 4<<30, "a frame header announcing more bytes is treated as garbage")
	fs.IntVar(&f.maxHandshake, "max-handshake", 64<<10, "bytes of one HTTP head of the opening handshake")
	fs.IntVar(&f.maxBuffered, "max-buffered", 4<<20, "out-of-order TCP bytes buffered per connection")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", 0, "end connections idle this long (packet time); 0 = never")
	fs.UintSliceVar(&f.wsPorts, "ws-port", nil, "decode TCP port N as WebSocket even without a captured handshake (repeatable)")
	fs.StringVar(&f.assumeExt, "assume-extensions", "", `extensions the uncaptured handshakes negotiated, e.g. "permessage-deflate"`)
	fs.StringVar(&f.assumeProto, "assume-subprotocol", "", "subprotocol the uncaptured handshakes negotiated")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a heap profile to this file at the end")
}

func (f *pipelineFlags) dissectOptions() dissect.Options {
	o := dissect.Options{MaxMessage: f.maxMessage, MaxFrame: f.maxFrame, MaxHandshake: f.maxHandshake, Frames: f.frames,
		AssumeExtensions: f.assumeExt, AssumeSubprotocol: f.assumeProto}
	for _, p := range f.wsPorts {
		o.WSPorts = append(o.WSPorts, uint16(p))
	}
	return o
}

const readExamples = `  wscap read capture.pcap
  wscap read --format jsonl capture.pcapng | jq 'select(.kind=="message")'
  tcpdump -i any -w - 'tcp port 8080' | wscap read -
`

func runRead(args []string, e *env) int {
	fs := pflag.NewFlagSet("read", pflag.ContinueOnError)
	var pf pipelineFlags
	pf.register(fs)
	if code, ok := parseFlags(fs, args, e, "wscap read [flags] FILE... (- for standard input)", readExamples); !ok {
		return code
	}
	files := fs.Args()
	if len(files) == 0 {
		e.errorf("read needs at least one capture file, or - for standard input")
		return exitError
	}
	streaming := false
	var inputs []input
	for _, name := range files {
		if name == "-" {
			streaming = true
		}
		inputs = append(inputs, input{name: name, open: func() (pcap.Source, error) { return pcap.Open(name) }})
	}
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
	var sink sinkCloser
	switch pf.format {
	case "jsonl":
		sink = output.NewJSONL(e.stdout, len(inputs) > 1, streaming)
	case "table":
		sink = output.NewTable(e.stdout, output.TableOptions{Frames: pf.frames, Flush: streaming})
	default:
		e.errorf("unknown --format %q: use table or jsonl", pf.format)
		return exitError
	}
	counted := &countingSink{next: sink}
	d := dissect.New(pf.dissectOptions(), counted)
	asm := reassembly.New(d, reassembly.Options{MaxBuffered: pf.maxBuffered, IdleTimeout: pf.idleTimeout})
	in := reassembly.NewInput(asm)
	status := exitOK
	for i, inp := range inputs {
		src, err := inp.open()
		if err != nil {
			e.errorf("%v", err)
			status = exitError
			continue
		}
		err = in.ReadAll(src, i)
		src.Close()
		if err != nil {
			if d.Err() != nil {
				break
			}
			e.errorf("%v", err)
			status = exitError
		}
		for _, lt := range in.UnsupportedLinkTypes() {
			e.errorf("%s: unsupported link type %s; its packets were not decoded", inp.name, lt)
			status = exitError
		}
	}
	counters := in.Flush()
	if err := d.Err(); err != nil {
		e.errorf("writing output: %v", err)
		return exitError
	}
	if j, ok := sink.(*output.JSONL); ok {
		j.WriteValue(struct {
			Kind    string              `json:"kind"`
			Packets reassembly.Counters `json:"packets"`
			Conns   int                 `json:"websocket_connections"`
		}{"totals", counters, d.Connections()})
	}
	if err := sink.Close(); err != nil {
		e.errorf("writing output: %v", err)
		return exitError
	}
	if status == exitOK && pf.strict && counted.errors > 0 {
		return exitFindings
	}
	return status
}

type sinkCloser interface {
	dissect.Sink
	Close() error
}

// countingSink counts findings by severity on their way to the output.
type countingSink struct {
	next   dissect.Sink
	errors int
}

func (c *countingSink) Emit(ev *dissect.Event) error {
	if ev.Kind == dissect.KindFinding && ev.Finding.Severity == dissect.Error {
		c.errors++
	}
	return c.next.Emit(ev)
}
