package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wscap/wscap/internal/gen"
)

// chromium returns the path of a headless-capable Chromium, or skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium (apt-get install chromium): the report is not loaded in a browser")
	return ""
}

// browse loads page#hash in headless Chromium and returns the DOM after its
// script ran, the console messages the page logged (any is a failure: the
// page logs nothing), and a screenshot when shot is set.
func browse(t *testing.T, page, hash string, shot string) (dom string, console []string) {
	t.Helper()
	bin := chromium(t)
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
		"--window-size=1280,1000", "--virtual-time-budget=5000"}
	if shot != "" {
		args = append(args, "--screenshot="+shot)
	} else {
		args = append(args, "--dump-dom")
	}
	abs, _ := filepath.Abs(page)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "file://"+abs+hash)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errb.String())
	}
	for _, l := range strings.Split(errb.String(), "\n") {
		if strings.Contains(l, ":CONSOLE") {
			console = append(console, l)
		}
	}
	return out.String(), console
}

// text returns the text of the element with id in a dumped DOM.
func text(dom, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(dom)
	if m == nil {
		return ""
	}
	return m[1]
}

func makeReport(t *testing.T, args ...string) string {
	t.Helper()
	page := filepath.Join(t.TempDir(), "report.html")
	if _, stderr, code := wscap(t, append([]string{"report", "-o", page}, args...)...); code != exitOK {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	return page
}

// TestReportInBrowser: reports of ws, wss, h2 and application-protocol
// captures load in headless Chromium without a console message, show the
// connection and message counts, and their search finds a known message
// and nothing for a string that is not there.
func TestReportInBrowser(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		conns string
		msgs  string
		find  string // text of a message
	}{
		{"ws", []string{"../../testdata/real/gorilla-basic.pcap"}, "1", "21", "hello"},
		{"wss", []string{"--keylog", "../../testdata/nonws/wss-chromium.keys", "../../testdata/nonws/wss-chromium.pcap"}, "1", "13", "hello from chromium 1"},
		{"h2", []string{"../../testdata/h2/node-h2c-two.pcap"}, "2", "21", "subscribe:prices"},
		{"socket.io", []string{"../../testdata/app/socketio-ws.pcap"}, "1", "30", "upload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := makeReport(t, tc.args...)
			dom, console := browse(t, page, "", "")
			if len(console) > 0 {
				t.Errorf("console: %q", console)
			}
			for card, want := range map[string]string{"WebSocket connections": tc.conns, "messages": tc.msgs} {
				m := regexp.MustCompile(`data-card="` + card + `"><b>([^<]*)</b>`).FindStringSubmatch(dom)
				if m == nil || m[1] != want {
					t.Errorf("card %q: %v, want %s", card, m, want)
				}
			}
			dom, _ = browse(t, page, "#tab=messages&q="+tc.find, "")
			if got := text(dom, "msgcount"); strings.HasPrefix(got, "0 messages") || got == "" {
				t.Errorf("search %q: %q", tc.find, got)
			}
			dom, _ = browse(t, page, "#tab=messages&q=no-such-text-anywhere", "")
			if got := text(dom, "msgcount"); !strings.HasPrefix(got, "0 messages") {
				t.Errorf("search for nothing: %q", got)
			}
			shot := filepath.Join(t.TempDir(), "shot.png")
			browse(t, page, "#tab=plots", shot)
			f, err := os.Open(shot)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 1000 {
				t.Errorf("screenshot %v", b)
			}
			colors := map[[3]uint32]bool{}
			for y := 0; y < img.Bounds().Dy(); y += 7 {
				for x := 0; x < img.Bounds().Dx(); x += 7 {
					r, g, b, _ := img.At(x, y).RGBA()
					colors[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
				}
			}
			if len(colors) < 8 {
				t.Errorf("the screenshot is blank: %d colours", len(colors))
			}
		})
	}
}

// TestReportHostile: payloads, paths and hosts that try to script the
// page (closing the script element, an event handler, a javascript: URL,
// U+2028, which ended JavaScript strings before ES2019) are shown as text
// and run nothing.
func TestReportHostile(t *testing.T) {
	hostile := []string{
		`</script><script>document.title="pwned"</script>`,
		`<img src=x onerror="document.title='pwned'">`,
		`javascript:document.title='pwned'`,
		"line\u2028separator\u2029 and </SCRIPT >",
		`"]}</script><script>document.title="pwned"</script>`,
	}
	c := gen.New(gen.Options{Seed: 1})
	conn := c.Conn(gen.ConnOptions{})
	conn.Handshake(gen.Handshake{Path: "/<img src=x onerror=alert(1)>", Host: "</script><b>host"})
	for _, h := range hostile {
		conn.Text(gen.FromClient, h)
		conn.Text(gen.FromServer, h)
	}
	conn.Close(gen.FromClient, 1000, "</script>")
	conn.Close(gen.FromServer, 1000, "")
	conn.Teardown()
	capture := filepath.Join(t.TempDir(), "hostile.pcap")
	f, _ := os.Create(capture)
	if _, err := c.Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	page := makeReport(t, capture)
	b, _ := os.ReadFile(page)
	if n := strings.Count(strings.ToLower(string(b)), "</script>"); n != 2 {
		t.Errorf("the page has %d </script>; its own two only", n)
	}
	for _, hash := range []string{"", "#tab=messages", "#tab=connections", "#tab=messages&msg=1", "#tab=messages&q=pwned"} {
		dom, console := browse(t, page, hash, "")
		if strings.Contains(dom, "<title>pwned") || regexp.MustCompile(`<img[^>]*onerror`).MatchString(dom) || len(console) > 0 {
			t.Errorf("%s: a payload ran or became markup (console %q)", hash, console)
		}
		if !strings.Contains(dom, "<title>wscap report") {
			t.Errorf("%s: title changed", hash)
		}
	}
	dom, _ := browse(t, page, "#tab=messages&q=pwned", "")
	if got := text(dom, "msgcount"); !strings.HasPrefix(got, "8 messages") {
		t.Errorf("the hostile texts are not found as text: %q", got)
	}
}

// TestReportData: the data embedded in the page, for bundled captures, as
// golden files (go test -update rewrites them).
func TestReportData(t *testing.T) {
	for _, tc := range []struct{ name, capture string }{
		{"report-node-fragmented.json", "../../testdata/real/node-fragmented.pcap"},
		{"report-h2-two.json", "../../testdata/h2/node-h2c-two.pcap"},
		{"report-mqtt.json", "../../testdata/app/mqtt-v5.pcap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page := makeReport(t, tc.capture)
			b, _ := os.ReadFile(page)
			s := string(b)
			const open = `<script type="application/json" id="data">`
			i := strings.Index(s, open)
			j := strings.Index(s[i:], "</script>")
			data := s[i+len(open):i+j] + "\n"
			golden := filepath.Join("../../testdata/golden/views", tc.name)
			if *update {
				os.WriteFile(golden, []byte(data), 0o644)
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if data != string(want) {
				t.Errorf("differs from %s (go test -update rewrites it)", golden)
			}
		})
	}
}

// TestReportFlags: report needs -o, and never writes over an input.
func TestReportFlags(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.pcap")
	orig, _ := os.ReadFile("../../testdata/real/gorilla-basic.pcap")
	os.WriteFile(in, orig, 0o644)
	if _, stderr, code := wscap(t, "report", in); code != exitError || !strings.Contains(stderr, "needs -o") {
		t.Errorf("without -o: exit %d, %q", code, stderr)
	}
	if _, stderr, code := wscap(t, "report", "-o", in, in); code != exitError || !strings.Contains(stderr, "not overwritten") {
		t.Errorf("-o an input: exit %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(in); !bytes.Equal(b, orig) {
		t.Errorf("the input was changed")
	}
}
