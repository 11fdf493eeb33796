package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
)

// capture is a running tcpdump writing one port's loopback traffic to a pcap file.
type capture struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan error
}

// startCapture starts tcpdump and returns once it reports that it is listening.
func startCapture(ctx context.Context, cfg *config, file string, port int) (*capture, error) {
	args := []string{
		"-i", cfg.iface,
		"-w", file,
		"-U",               // write each packet as it arrives
		"--immediate-mode", // no TPACKET_V3 block timeout: SIGINT then loses nothing
		"-s", "262144",     // whole packets (loopback MTU is 65536)
		// In immediate mode libpcap's ring holds buffer/snaplen packets: the default 2 MiB
		// is 8 slots, which a 64 KiB message overruns. 64 MiB is 256 slots.
		"-B", "65536",
		"-n",
		"-Z", "root", // keep root so tcpdump can write into our 0700 temp dir
		fmt.Sprintf("tcp port %d", port),
	}
	c := &capture{cmd: exec.CommandContext(ctx, cfg.tcpdump, args...), done: make(chan error, 1)}
	pr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := false
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			c.stderr.WriteString(line + "\n")
			c.mu.Unlock()
			if !once && strings.Contains(line, "listening on") {
				once = true
				close(ready)
			}
		}
		c.done <- c.cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-c.done:
		return nil, fmt.Errorf("tcpdump exited early (%v): %s", err, c.log())
	case <-time.After(10 * time.Second):
		c.kill()
		return nil, fmt.Errorf("tcpdump not ready: %s", c.log())
	}
	// The socket is open and filtered once tcpdump says so; a little slack costs nothing.
	time.Sleep(200 * time.Millisecond)
	return c, nil
}

func (c *capture) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.TrimSpace(c.stderr.String())
}

var (
	capturedRE = regexp.MustCompile(`(\d+) packets? captured`)
	droppedRE  = regexp.MustCompile(`(\d+) packets? dropped by kernel`)
)

// stop ends tcpdump with SIGINT and returns its packet counts; a kernel drop is an error.
func (c *capture) stop() (string, error) {
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
		return "", err
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.kill()
		return "", errors.New("tcpdump did not stop")
	}
	log := c.log()
	m := capturedRE.FindStringSubmatch(log)
	d := droppedRE.FindStringSubmatch(log)
	if m == nil || d == nil {
		return "", fmt.Errorf("no tcpdump statistics: %s", log)
	}
	if d[1] != "0" {
		return "", fmt.Errorf("tcpdump dropped packets: %s", log)
	}
	return m[1] + " packets", nil
}

func (c *capture) kill() {
	if c.cmd.ProcessState == nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
	}
}

// capturedWith returns tcpdump's and libpcap's versions, as tcpdump --version prints them.
func capturedWith(cfg *config) string {
	out, err := exec.Command(cfg.tcpdump, "--version").Output()
	if err != nil {
		return "tcpdump"
	}
	var parts []string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "tcpdump version ") || strings.HasPrefix(l, "libpcap version ") {
			f := strings.Fields(l)
			parts = append(parts, f[0]+" "+f[2])
		}
	}
	return strings.Join(parts, ", ")
}

// convertToNg rewrites a pcap file as pcapng: one interface, same link type and snaplen,
// the same timestamps (pcapgo writes them at nanosecond resolution).
func convertToNg(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	w, err := pcapgo.NewNgWriterInterface(out, pcapgo.NgInterface{
		Name:       "lo",
		LinkType:   r.LinkType(),
		SnapLength: r.Snaplen(),
	}, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "wscap realcap (from tcpdump)"}})
	if err != nil {
		return err
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		if err := w.WritePacket(ci, data); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return out.Close()
}
