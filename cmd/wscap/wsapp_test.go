package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The live tests run the wsapp echo server and client as a program of
// their own, built here once per test binary: it links gorilla/websocket
// and coder/websocket, which wscap itself never does, so it lives in the
// module internal/thirdparty.

// wsappModule is the directory go build runs in (the module's), and
// wsappPackage the program's package there.
const (
	wsappModule  = "../../internal/thirdparty"
	wsappPackage = "./wsapp/cmd/wsapp"
)

var wsappProgram struct {
	once sync.Once
	dir  string // removed by TestMain
	exe  string
	skip string // why it cannot be built here
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if wsappProgram.dir != "" {
		os.RemoveAll(wsappProgram.dir)
	}
	os.Exit(code)
}

// wsappExe returns the path of the wsapp program, building it the first
// time. The test skips where it cannot be built: no go command, or the
// program's modules neither in the module cache nor to be fetched.
func wsappExe(t *testing.T) string {
	t.Helper()
	p := &wsappProgram
	p.once.Do(func() {
		gocmd, err := exec.LookPath("go")
		if err != nil {
			p.skip = fmt.Sprintf("the wsapp test program cannot be built: %v", err)
			return
		}
		download := exec.Command(gocmd, "mod", "download")
		download.Dir = wsappModule
		if out, err := download.CombinedOutput(); err != nil {
			p.skip = fmt.Sprintf("the wsapp test program cannot be built: go mod download in %s: %v\n%s", wsappModule, err, out)
			return
		}
		if p.dir, err = os.MkdirTemp("", "wscap-wsapp-"); err != nil {
			p.err = err
			return
		}
		exe := filepath.Join(p.dir, "wsapp")
		build := exec.Command(gocmd, "build", "-o", exe, wsappPackage)
		build.Dir = wsappModule
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			p.err = fmt.Errorf("go build %s in %s: %v\n%s", wsappPackage, wsappModule, err, out)
			return
		}
		p.exe = exe
	})
	if p.skip != "" {
		t.Skip(p.skip)
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return p.exe
}

// wsappCmd returns the command running the wsapp program with args,
// prefixed by prefix (e.g. ip netns exec NS).
func wsappCmd(t *testing.T, prefix []string, args ...string) *exec.Cmd {
	t.Helper()
	argv := append(append(append([]string{}, prefix...), wsappExe(t)), args...)
	return exec.Command(argv[0], argv[1:]...)
}

// wsappMessage is one message of a wsapp client's script.
type wsappMessage struct {
	Binary bool   `json:"binary"`
	Data   []byte `json:"data"`
}

// wsappScript returns the n messages a wsapp client sends (wsapp script -n N).
func wsappScript(t *testing.T, n int) []wsappMessage {
	t.Helper()
	cmd := wsappCmd(t, nil, "script", "-n", fmt.Sprint(n))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, stderr.String())
	}
	var msgs []wsappMessage
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m wsappMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("wsapp script: %q: %v", sc.Text(), err)
		}
		msgs = append(msgs, m)
	}
	if len(msgs) != n {
		t.Fatalf("wsapp script -n %d printed %d messages", n, len(msgs))
	}
	return msgs
}

// loopbackEcho starts wsapp's echo server (permessage-deflate on if
// compress) on a loopback port until the test ends.
func loopbackEcho(t *testing.T, compress bool) (addr string, port int) {
	t.Helper()
	args := []string{"server", "127.0.0.1:0"}
	if compress {
		args = []string{"server", "-compress", "127.0.0.1:0"}
	}
	srv := startProcess(t, wsappCmd(t, nil, args...))
	srv.waitFor(t, "server listening", 10*time.Second, func(out, _ string) bool { return strings.HasSuffix(out, "\n") })
	out, _ := srv.output()
	if _, err := fmt.Sscanf(out, "listening 127.0.0.1:%d\n", &port); err != nil {
		t.Fatalf("wsapp server: %q: %v", out, err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port), port
}

// runWsappClient runs wsapp with args (the client role) on this machine
// and fails the test unless every echo came back.
func runWsappClient(t *testing.T, args ...string) {
	t.Helper()
	cli := startProcess(t, wsappCmd(t, nil, args...))
	if code := cli.wait(t, 90*time.Second); code != 0 {
		out, errs := cli.output()
		t.Fatalf("%v: exit %d: %s %s", cli.cmd.Args, code, out, errs)
	}
}
