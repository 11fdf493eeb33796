package dissect

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTimeBackwards: a connection whose packets are stamped earlier than
// the ones before them (a merged or clock-adjusted capture) decodes every
// message, counts those steps as no time, measures no round trip from a
// pong stamped before its ping, and says so once.
func TestTimeBackwards(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		offsets  []time.Duration // per step, from t0; the end comes last
		duration time.Duration
		back     bool
		rtts     int64
	}{
		{"forward", []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second, 5 * time.Second}, 5 * time.Second, false, 1},
		{"two hours back at every step", []time.Duration{0, -2 * time.Hour, -4 * time.Hour, -6 * time.Hour, -8 * time.Hour, -10 * time.Hour}, 0, true, 0},
		{"one step back", []time.Duration{0, time.Second, 2 * time.Second, -time.Hour, -time.Hour + 3*time.Second, -time.Hour + 4*time.Second}, 2*time.Second + 4*time.Second, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			d := New(Options{}, rec)
			c := d.NewConn(netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"), Pos{Pkt: 1, TS: t0})
			steps := upgraded(
				c2s(frames(client(OpPing, "p1"))),
				s2c(frames(server(OpPong, "p1"))),
				s2c(frames(server(OpText, "hello"))),
			)
			for i, s := range steps {
				c.Data(s.dir, Pos{Pkt: uint64(i + 2), TS: t0.Add(tc.offsets[i])}, bytes.Clone(s.data))
			}
			c.End(Pos{Pkt: uint64(len(steps) + 2), TS: t0.Add(tc.offsets[len(tc.offsets)-1])}, EndFIN)
			if len(rec.sums) != 1 || len(rec.messages) != 3 {
				t.Fatalf("%d summaries, %d messages: %v", len(rec.sums), len(rec.messages), rec.lines)
			}
			s := rec.sums[0]
			if s.Duration != tc.duration || s.Duration < 0 {
				t.Errorf("duration %v, want %v", s.Duration, tc.duration)
			}
			if s.RTT.Count != tc.rtts || s.RTT.Min < 0 {
				t.Errorf("%d round trips (min %v), want %d", s.RTT.Count, s.RTT.Min, tc.rtts)
			}
			n := strings.Count(strings.Join(rec.codes(), " "), string(CodeTimeBackwards))
			if tc.back != (n == 1) || n > 1 {
				t.Errorf("findings %v", rec.codes())
			}
		})
	}
}

// TestObsFold: a handshake head with folded header lines is decoded with
// the folds joined, and reported with its section, for the request and the
// response.
func TestObsFold(t *testing.T) {
	folded := strings.Replace(request(), "Upgrade: websocket\r\n", "Upgrade: websocket\r\nX-Long: a\r\n b\r\n\tc\r\n", 1)
	rec := runConn(t, Options{}, EndFIN, c2s([]byte(folded)), s2c([]byte(response())), s2c(frames(server(OpText, "hi"))))
	if !slices.Contains(rec.codes(), string(CodeObsFold)) || len(rec.messages) != 1 {
		t.Fatalf("request: %v", rec.lines)
	}
	r, _ := RuleFor(CodeObsFold)
	if r.RFC != "9112 §5.2" || r.Severity != SeverityError {
		t.Errorf("rule %+v", r)
	}
	if v, _ := rec.hs[0].Request.Header.Get("X-Long"); v != "a b c" {
		t.Errorf("folded value %q", v)
	}
	resp := strings.Replace(response(), "Upgrade: websocket\r\n", "Upgrade:\r\n websocket\r\n", 1)
	rec = runConn(t, Options{}, EndFIN, c2s([]byte(request())), s2c([]byte(resp)))
	if !slices.Contains(rec.codes(), string(CodeObsFold)) {
		t.Fatalf("response: %v", rec.lines)
	}
	rec = runConn(t, Options{}, EndFIN, c2s([]byte(request())), s2c([]byte(response())))
	if slices.Contains(rec.codes(), string(CodeObsFold)) {
		t.Fatalf("no fold: %v", rec.codes())
	}
}
