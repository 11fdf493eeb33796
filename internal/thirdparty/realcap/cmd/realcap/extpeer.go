package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// server is a running WebSocket server of either kind.
type serverHandle interface {
	port() int
	wait() error
	stop()
	version() string
	runtime() string
}

// clientResult is what a finished client reports.
type clientResult struct {
	version    string
	runtime    string
	extensions string
}

func startServer(ctx context.Context, cfg *config, sc scenario, host, tmp string) (serverHandle, error) {
	switch sc.server.impl {
	case "gorilla", "coder":
		return startGoServer(sc, host)
	}
	p, err := startExtPeer(ctx, cfg, sc, server, host, "", tmp)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.listening:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s peer exited: %s", sc.server.impl, p.log())
	case <-time.After(15 * time.Second):
		p.stop()
		return nil, fmt.Errorf("%s peer did not listen: %s", sc.server.impl, p.log())
	}
}

func runClient(ctx context.Context, cfg *config, sc scenario, url, tmp string) (clientResult, error) {
	switch sc.client.impl {
	case "gorilla", "coder":
		return runGoClient(ctx, sc, url)
	}
	p, err := startExtPeer(ctx, cfg, sc, client, "", url, tmp)
	if err != nil {
		return clientResult{}, err
	}
	if err := p.wait(); err != nil {
		return clientResult{}, err
	}
	return clientResult{version: p.version(), runtime: p.runtime(), extensions: p.extensions}, nil
}

// extPeer is a Python or node peer process (internal/thirdparty/realcap/peer/peer.py, peer.js).
// It reports on stdout, one line each: "VERSION v", "RUNTIME r", "LISTENING port" (server),
// "EXTENSIONS value" (client), "DONE".
type extPeer struct {
	cmd        *exec.Cmd
	mu         sync.Mutex
	stderr     bytes.Buffer
	ver        string
	rt         string
	listenPort int
	extensions string
	finished   bool
	listening  chan struct{}
	exited     chan struct{}
	exitErr    error
}

// peerConfig is the JSON handed to a peer process.
type peerConfig struct {
	Role    string         `json:"role"`
	Host    string         `json:"host,omitempty"`
	URL     string         `json:"url,omitempty"`
	Deflate map[string]any `json:"deflate"`
	Steps   []peerStep     `json:"steps"`
}

type peerStep struct {
	From         string     `json:"from"`
	Op           string     `json:"op"`
	DataB64      string     `json:"data_b64"`
	FragmentsB64 []string   `json:"fragments_b64,omitempty"`
	Compress     *bool      `json:"compress,omitempty"`
	Auto         bool       `json:"auto,omitempty"`
	CloseCode    int        `json:"close_code,omitempty"`
	CloseReason  string     `json:"close_reason,omitempty"`
	Interleave   []peerCtrl `json:"interleave,omitempty"`
}

type peerCtrl struct {
	After   int    `json:"after"`
	Op      string `json:"op"`
	DataB64 string `json:"data_b64"`
}

func startExtPeer(ctx context.Context, cfg *config, sc scenario, role, host, url, tmp string) (*extPeer, error) {
	spec := sc.spec(role)
	pc := peerConfig{Role: role, Host: host, URL: url, Deflate: spec.deflate}
	for _, st := range sc.steps {
		ps := peerStep{From: st.from, Op: st.op, DataB64: b64(st.data), Compress: st.sendCompress,
			Auto: st.auto, CloseCode: st.code, CloseReason: st.reason}
		for _, f := range st.frags {
			ps.FragmentsB64 = append(ps.FragmentsB64, b64(f))
		}
		for _, c := range st.interleave {
			ps.Interleave = append(ps.Interleave, peerCtrl{After: c.after, Op: c.op, DataB64: b64(c.data)})
		}
		pc.Steps = append(pc.Steps, ps)
	}
	b, err := json.Marshal(pc)
	if err != nil {
		return nil, err
	}
	cfgFile := filepath.Join(tmp, role+".json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	switch spec.impl {
	case "python":
		cmd = exec.CommandContext(ctx, cfg.python, filepath.Join(cfg.peers, "peer.py"), cfgFile)
	case "node":
		cmd = exec.CommandContext(ctx, cfg.node, filepath.Join(cfg.peers, "peer.js"), cfgFile)
		cmd.Env = append(os.Environ(), "NODE_PATH="+cfg.nodePath)
	default:
		return nil, fmt.Errorf("unknown implementation %q", spec.impl)
	}
	p := &extPeer{cmd: cmd, listening: make(chan struct{}), exited: make(chan struct{})}
	cmd.Stderr = &lockedWriter{mu: &p.mu, b: &p.stderr}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			word, rest, _ := strings.Cut(s.Text(), " ")
			p.mu.Lock()
			switch word {
			case "VERSION":
				p.ver = rest
			case "RUNTIME":
				p.rt = rest
			case "LISTENING":
				p.listenPort, _ = strconv.Atoi(rest)
				close(p.listening)
			case "EXTENSIONS":
				p.extensions = rest
			case "DONE":
				p.finished = true
			default:
				fmt.Fprintf(&p.stderr, "stdout: %s\n", s.Text())
			}
			p.mu.Unlock()
		}
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (p *extPeer) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.TrimSpace(p.stderr.String())
}

func (p *extPeer) port() int { return p.listenPort }

func (p *extPeer) version() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ver
}

func (p *extPeer) runtime() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rt
}

func (p *extPeer) wait() error {
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.stop()
		return errors.New("peer timed out: " + p.log())
	}
	p.mu.Lock()
	finished := p.finished
	p.mu.Unlock()
	if p.exitErr != nil || !finished {
		return fmt.Errorf("peer failed (%v): %s", p.exitErr, p.log())
	}
	return nil
}

func (p *extPeer) stop() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
	}
}
