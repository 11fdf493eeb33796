package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/wscap/wscap/output"
)

const followExamples = `  wscap follow capture.pcap --conn 3
  wscap follow --raw --conn 1 capture.pcapng | less -R
`

// runFollow prints one connection's conversation as a transcript.
func runFollow(args []string, e *env) int {
	fs := pflag.NewFlagSet("follow", pflag.ContinueOnError)
	var pf pipelineFlags
	pf.register(fs, flagGroups{command: "follow", message: true})
	fs.BoolVar(&pf.raw, "raw", false, "print JSON text messages as they came, not pretty-printed")
	fs.BoolVar(&pf.full, "full", false, fmt.Sprintf("print every message whole (otherwise at most %d KiB of text or %d KiB of binary each)", output.FollowText>>10, output.FollowBinary>>10))
	fs.IntVar(&pf.msg, "msg", 0, "print only message N (from 1) of the connection, whole")
	fs.StringVar(&pf.msgOut, "msg-out", "", "with --msg: write the message's payload bytes, as sent (unmasked, inflated), to this file instead")
	rfiles := readFileFlag(fs, &pf)
	if code, ok := parseFlags(fs, args, e, "wscap follow --conn ID [flags] FILE...", followExamples); !ok {
		return code
	}
	if len(pf.connIDs) != 1 {
		e.errorf("follow needs exactly one connection: --conn ID (numbers as 'wscap read' or 'wscap stats' print them)")
		return exitError
	}
	files := append(*rfiles, fs.Args()...)
	if len(files) == 0 {
		e.errorf("follow needs a capture file")
		return exitError
	}
	if pf.msgOut != "" && pf.msg <= 0 {
		e.errorf("--msg-out needs --msg N")
		return exitError
	}
	pf.summary = false
	return analyse(e, &pf, fileInputs(files, e), false)
}
