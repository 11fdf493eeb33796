// Command wscapgen writes a deterministic WebSocket capture of a named
// scenario and a JSON manifest of what it wrote (see internal/gen).
//
//	wscapgen -scenario NAME -o FILE [-format pcap|pcap-ns|pcapng] [-link ethernet|raw|sll]
//	         [-seed N] [-conns N] [-messages N] [-manifest FILE] [-messages-list]
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/wscap/wscap/internal/gen"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("wscapgen", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "demo", "scenario to write")
	out := fs.StringP("output", "o", "", "capture file to write (required)")
	format := fs.String("format", "pcap", "file format: pcap, pcap-ns or pcapng")
	link := fs.String("link", "ethernet", "link type: ethernet, raw or sll")
	seed := fs.Uint64("seed", 1, "random seed")
	conns := fs.Int("conns", 0, "connections (medium, many; 0 is the scenario default)")
	messages := fs.Int("messages", 0, "data messages per connection (medium, many; 0 is the default)")
	snaplen := fs.Int("snaplen", 0, "snapshot length; longer packets are cut (0 is 262144)")
	manifest := fs.String("manifest", "", "manifest file (default FILE.manifest.json; - for stdout); indented up to 1,000 connections")
	list := fs.Bool("messages-list", false, "list every message in the manifest")
	quiet := fs.BoolP("quiet", "q", false, "print nothing on success")
	wss := fs.Bool("tls", false, "medium, many: carry the connections in TLS 1.3 (wss://); the key log goes to FILE.keys")
	h2 := fs.Bool("h2", false, "medium, many: carry each WebSocket in an HTTP/2 stream (RFC 8441): h2c, or h2 in TLS with --tls")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: wscapgen -scenario NAME -o FILE [flags]\n\nscenarios:\n")
		for _, n := range gen.Scenarios() {
			fmt.Fprintf(stderr, "  %-8s %s\n", n, gen.ScenarioDoc(n))
		}
		fmt.Fprintf(stderr, "\nflags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(longFlags(fs, args)); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "wscapgen:", err)
		return 2
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	f, err := gen.ParseFormat(*format)
	if err != nil {
		fmt.Fprintln(stderr, "wscapgen:", err)
		return 2
	}
	l, err := gen.ParseLink(*link)
	if err != nil {
		fmt.Fprintln(stderr, "wscapgen:", err)
		return 2
	}
	var keylog *bufio.Writer
	if *wss {
		kf, err := os.Create(*out + ".keys")
		if err != nil {
			fmt.Fprintln(stderr, "wscapgen:", err)
			return 1
		}
		defer kf.Close()
		keylog = bufio.NewWriter(kf)
		defer keylog.Flush()
	}
	opts := gen.Options{Seed: *seed, Format: f, Link: l, Snaplen: *snaplen, RecordMessages: *list}
	if keylog != nil {
		opts.KeyLog = keylog
	}
	c, err := gen.NewScenario(*scenario, opts, gen.ScenarioParams{Conns: *conns, Messages: *messages, TLS: *wss, H2: *h2})
	if err != nil {
		fmt.Fprintln(stderr, "wscapgen:", err)
		return 2
	}
	began := time.Now()
	m, err := write(c, *out)
	if err != nil {
		fmt.Fprintln(stderr, "wscapgen:", err)
		return 1
	}
	elapsed := time.Since(began)
	mpath := *manifest
	if mpath == "" {
		mpath = *out + ".manifest.json"
	}
	if err := writeManifest(m, mpath, stdout); err != nil {
		fmt.Fprintln(stderr, "wscapgen:", err)
		return 1
	}
	if !*quiet {
		fmt.Fprintf(stderr, "wscapgen: %s: %d connections (%d open at most), %d packets, %d payload bytes, digest %s (%d messages) in %v\n",
			*out, m.Connections, m.MaxOpen, m.Packets, m.PayloadBytes, m.Digest, m.DigestCount, elapsed.Round(time.Millisecond))
	}
	return 0
}

// longFlags lets long flags take one dash, as in "-scenario demo": pflag
// reads "-scenario" as shorthands, so a single-dash word naming a long flag
// gets a second dash.
func longFlags(fs *pflag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name := a[1:]
			if j := strings.IndexByte(name, '='); j >= 0 {
				name = name[:j]
			}
			if len(name) > 1 && fs.Lookup(name) != nil {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

func write(c *gen.Capture, path string) (*gen.Manifest, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	m, err := c.Write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return m, err
}

func writeManifest(m *gen.Manifest, path string, stdout io.Writer) error {
	w := stdout
	var f *os.File
	if path != "-" {
		var err error
		if f, err = os.Create(path); err != nil {
			return err
		}
		w = f
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if len(m.Conns) <= 1000 {
		enc.SetIndent("", " ")
	}
	err := enc.Encode(m)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
