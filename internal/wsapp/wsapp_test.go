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
