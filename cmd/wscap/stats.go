package main

import (
	"slices"

	"github.com/spf13/pflag"

	"github.com/wscap/wscap/pcap"
)

const statsExamples = `  wscap stats capture.pcap
  wscap stats --format jsonl capture.pcapng | jq 'select(.kind=="totals")'
  wscap stats --host example.com a.pcap b.pcap
`

// runStats prints one row per WebSocket connection and a totals row. Every
// message is decoded, inflated and accounted; none is printed.
func runStats(args []string, e *env) int {
	fs := pflag.NewFlagSet("stats", pflag.ContinueOnError)
	var pf pipelineFlags
	pf.register(fs, flagGroups{command: "stats", sink: true})
	rfiles := readFileFlag(fs, &pf)
	if code, ok := parseFlags(fs, args, e, "wscap stats [flags] FILE... (- for standard input)", statsExamples); !ok {
		return code
	}
	if _, err := pf.outputFormat(); err != nil {
		e.errorf("%v", err)
		return exitError
	}
	pf.summary = false
	files := append(*rfiles, fs.Args()...)
	if len(files) == 0 {
		e.errorf("stats needs at least one capture file, or - for standard input")
		return exitError
	}
	pf.sinkInputs = files
	return analyse(e, &pf, fileInputs(files, e), slices.Contains(files, "-"))
}

// fileInputs turns command-line arguments into inputs; "-" is standard input.
func fileInputs(names []string, e *env) []input {
	var inputs []input
	for _, name := range names {
		open := func() (pcap.Source, error) { return pcap.Open(name) }
		if name == "-" {
			open = func() (pcap.Source, error) { return pcap.NewFile("standard input", e.stdin, nil) }
		}
		inputs = append(inputs, input{name: name, open: open})
	}
	return inputs
}
