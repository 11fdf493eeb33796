package wsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEcho(t *testing.T) {
	for _, compress := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go Serve(ln, ServerOptions{Compress: compress})
		msgs := Script(40)
		res, err := Run(context.Background(), msgs, ClientOptions{URL: "ws://" + ln.Addr().String() + "/", Compress: compress})
		ln.Close()
		if err != nil {
			t.Fatalf("compress=%v: %v", compress, err)
		}
		if res.Sent != len(msgs) || res.Echoed != len(msgs) {
			t.Errorf("compress=%v: %+v, want %d sent and echoed", compress, res, len(msgs))
		}
	}
}

func TestScript(t *testing.T) {
	a, b := Script(25), Script(25)
	for i := range a {
		if a[i].Binary != b[i].Binary || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Fatalf("message %d differs between two calls", i)
		}
		if !a[i].Binary && !utf8.Valid(a[i].Data) {
			t.Errorf("text message %d is not valid UTF-8", i)
		}
	}
}

func TestPaced(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go Serve(ln, ServerOptions{})
	var out, errb strings.Builder
	if code := Main([]string{"client", "-n", "200", "-size", "100", "-rate", "2000", "ws://" + ln.Addr().String() + "/"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var res Result
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatal(err)
	}
	if res.Sent != 200 || res.Echoed != 200 {
		t.Errorf("%+v", res)
	}
	// 200 messages at 2000/s take about 100 ms.
	if res.Elapsed < 90*time.Millisecond {
		t.Errorf("200 messages at 2000/s took only %v: not paced", res.Elapsed)
	}
}

// TestMainRoles runs the roles the live tests of cmd/wscap use through
// the program: script prints what a client sends, client -clients C runs
// C clients at once.
func TestMainRoles(t *testing.T) {
	var out, errb strings.Builder
	if code := Main([]string{"script", "-n", "25"}, &out, &errb); code != 0 {
		t.Fatalf("script: exit %d: %s", code, errb.String())
	}
	want := Script(25)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("script -n 25 printed %d lines", len(lines))
	}
	for i, line := range lines {
		var m Message
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m.Binary != want[i].Binary || !bytes.Equal(m.Data, want[i].Data) {
			t.Errorf("script line %d is not message %d", i, i)
		}
	}
	out.Reset()
	if code := Main([]string{"script", "-n", "3", "-size", "100"}, &out, &errb); code != 0 || strings.Count(out.String(), "\n") != 3 {
		t.Errorf("script -size: exit %d: %q", code, out.String())
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go Serve(ln, ServerOptions{Compress: true})
	out.Reset()
	if code := Main([]string{"client", "-compress", "-clients", "4", "-n", "12", "ws://" + ln.Addr().String() + "/"}, &out, &errb); code != 0 {
		t.Fatalf("client -clients 4: exit %d: %s", code, errb.String())
	}
	lines = strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("client -clients 4 printed %d lines:\n%s", len(lines), out.String())
	}
	for _, line := range lines {
		var res Result
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatal(err)
		}
		if res.Sent != 12 || res.Echoed != 12 {
			t.Errorf("%s", line)
		}
	}

	errb.Reset()
	if code := Main([]string{"client", "-clients", "2", "-timeout", "2s", "ws://127.0.0.1:1/"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "wsapp: client 2: dial") {
		t.Errorf("refused: exit %d: %s", code, errb.String())
	}
	for _, args := range [][]string{{"script", "x"}, {"client"}, {"client", "-clients", "0", "ws://x/"}, {"nope", "x"}} {
		if code := Main(args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
