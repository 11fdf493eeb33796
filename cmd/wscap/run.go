package main

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"
)

// Exit statuses.
const (
	exitOK       = 0
	exitFindings = 1 // --strict and a finding of severity error
	exitError    = 2 // usage, input or output error
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name, summary string
	run           func(args []string, env *env) int
}

// env is what a subcommand reads and writes.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func (e *env) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(e.stderr, "wscap: %s\n", strings.TrimRight(msg, "\n"))
}

func commands() []command {
	return []command{
		{"read", "analyse capture files (pcap, pcapng, gzip) or standard input", runRead},
		{"stats", "one row per WebSocket connection, and totals", runStats},
		{"follow", "one connection's conversation as a readable transcript", runFollow},
		{"live", "capture and analyse a live interface (AF_PACKET)", runLive},
		{"report", "write one self-contained HTML page that shows a capture", runReport},
		{"split", "split captures into N pcapng files, every TCP connection whole in one", runSplit},
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(e.stderr)
		return exitError
	}
	switch args[0] {
	case "-h", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			return run([]string{args[1], "--help"}, stdin, stdout, stderr)
		}
		usage(e.stdout)
		return exitOK
	case "--version", "version":
		fmt.Fprintf(e.stdout, "wscap %s\n", versionString())
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], e)
		}
	}
	e.errorf("unknown command %q (see 'wscap help')", args[0])
	return exitError
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "wscap: see what went over a WebSocket.\n\nUsage:\n  wscap COMMAND [flags] [args]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'wscap COMMAND --help' for a command's flags and examples.\n")
}

// parseFlags parses args with fs; it prints help (exit 0) or a one-line
// error (exit 2) and returns ok=false when the command should stop.
func parseFlags(fs *pflag.FlagSet, args []string, e *env, synopsis, examples string) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(e.stdout, "Usage:\n  %s\n\nFlags:\n%s", synopsis, fs.FlagUsages())
			if examples != "" {
				fmt.Fprintf(e.stdout, "\nExamples:\n%s", examples)
			}
			return exitOK, false
		}
		e.errorf("%v (see 'wscap %s --help')", err, fs.Name())
		return exitError, false
	}
	return 0, true
}

// versionString is version, or, for a build from a git checkout without
// -ldflags, the commit it was built from (as the go command records it).
func versionString() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v // go install github.com/wscap/wscap/cmd/wscap@version
		}
		return version
	}
	s := "dev " + rev[:min(12, len(rev))]
	if dirty {
		s += "-dirty"
	}
	if at != "" {
		s += " (" + at + ")"
	}
	return s
}
