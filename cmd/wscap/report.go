package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
)

const reportExamples = `  wscap report capture.pcap -o report.html
  wscap report --keylog keys.log --host chat.example.com wss.pcapng -o chat.html
`

// runReport writes one self-contained HTML page of the capture (output.Report).
func runReport(args []string, e *env) int {
	fs := pflag.NewFlagSet("report", pflag.ContinueOnError)
	var pf pipelineFlags
	pf.register(fs, flagGroups{command: "report", message: true})
	out := fs.StringP("output", "o", "", "write the HTML page to this file (required)")
	rfiles := readFileFlag(fs, &pf)
	if code, ok := parseFlags(fs, args, e, "wscap report [flags] FILE... -o report.html", reportExamples); !ok {
		return code
	}
	files := append(*rfiles, fs.Args()...)
	if len(files) == 0 {
		e.errorf("report needs at least one capture file")
		return exitError
	}
	if *out == "" {
		e.errorf("report needs -o FILE: where to write the page")
		return exitError
	}
	// Never overwrite an input.
	for _, f := range files {
		if a, b := absPath(f), absPath(*out); a == b || sameFile(f, *out) {
			e.errorf("-o %s is one of the inputs; it is not overwritten", *out)
			return exitError
		}
	}
	pf.reportOut = *out
	pf.reportFiles = files
	return analyse(e, &pf, fileInputs(files, e), false)
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
