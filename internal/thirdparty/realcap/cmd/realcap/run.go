package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wscap/wscap/internal/thirdparty/realcap"
)

// config holds the command-line settings.
type config struct {
	out      string
	peers    string
	python   string
	node     string
	nodePath string
	tcpdump  string
	iface    string
	only     map[string]bool
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("realcap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	var only string
	fs.StringVar(&cfg.out, "out", "../../testdata/real", "directory to write captures and expectations into")
	fs.StringVar(&cfg.peers, "peers", "realcap/peer", "directory holding peer.py and peer.js")
	fs.StringVar(&cfg.python, "python", "/usr/bin/python3", "Python interpreter that has the websockets package (Debian's python3-websockets)")
	fs.StringVar(&cfg.node, "node", "node", "node executable")
	fs.StringVar(&cfg.nodePath, "node-path", os.Getenv("NODE_PATH"), "NODE_PATH under which node finds the ws package")
	fs.StringVar(&cfg.tcpdump, "tcpdump", "tcpdump", "tcpdump executable")
	fs.StringVar(&cfg.iface, "i", "lo", "loopback interface to capture on")
	fs.StringVar(&only, "only", "", "comma-separated scenario names to record (default all)")
	list := fs.Bool("list", false, "list the scenarios and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	all := scenarios()
	if *list {
		for _, sc := range all {
			fmt.Fprintf(stdout, "%-22s %s\n", sc.name, sc.description)
		}
		return 0
	}
	if only != "" {
		cfg.only = map[string]bool{}
		for _, n := range strings.Split(only, ",") {
			cfg.only[strings.TrimSpace(n)] = true
		}
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		fmt.Fprintln(stderr, "realcap:", err)
		return 1
	}
	failed := 0
	for _, sc := range all {
		if cfg.only != nil && !cfg.only[sc.name] {
			continue
		}
		if err := record(&cfg, sc, stdout); err != nil {
			fmt.Fprintf(stderr, "realcap: %s: %v\n", sc.name, err)
			failed++
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// record runs one scenario under tcpdump and writes its capture and expectation.
func record(cfg *config, sc scenario, stdout io.Writer) error {
	if err := sc.validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	host := "127.0.0.1"
	if sc.network == "tcp6" {
		host = "::1"
	}
	tmp, err := os.MkdirTemp("", "realcap-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	srv, err := startServer(ctx, cfg, sc, host, tmp)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	defer srv.stop()

	raw := filepath.Join(tmp, "raw.pcap")
	capt, err := startCapture(ctx, cfg, raw, srv.port())
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	defer capt.kill()

	url := "ws://" + net.JoinHostPort(host, fmt.Sprint(srv.port())) + "/" + sc.name
	cli, err := runClient(ctx, cfg, sc, url, tmp)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if err := srv.wait(); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	// Let the last FIN/ACK reach the capture before stopping it.
	time.Sleep(300 * time.Millisecond)
	stats, err := capt.stop()
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}

	file := sc.name + "." + sc.format
	dst := filepath.Join(cfg.out, file)
	if sc.format == "pcapng" {
		err = convertToNg(raw, dst)
	} else {
		err = copyFile(raw, dst)
	}
	if err != nil {
		return err
	}

	exp := realcap.Expectation{
		Name:         sc.name,
		Description:  sc.description,
		Capture:      file,
		Network:      sc.network,
		CapturedWith: capturedWith(cfg),
		Server:       realcap.Peer{Impl: implName(sc.server.impl), Version: srv.version(), Runtime: srv.runtime(), Options: sc.server.describe()},
		Client:       realcap.Peer{Impl: implName(sc.client.impl), Version: cli.version, Runtime: cli.runtime, Options: sc.client.describe()},
		Extensions:   cli.extensions,
		Messages:     sc.messages(),
	}
	b, err := json.MarshalIndent(exp, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg.out, sc.name+".json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-22s %7d bytes  %s  ext=%q  (%s)\n", file, fi.Size(), stats, cli.extensions, exp.Server.Impl+" <- "+exp.Client.Impl)
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
