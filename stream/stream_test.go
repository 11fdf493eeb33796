package stream

import (
	"testing"
	"time"
)

func TestPosBefore(t *testing.T) {
	ts := time.Unix(100, 0)
	for _, c := range []struct {
		p, q Pos
		want bool
	}{
		{Pos{File: 0, Pkt: 1}, Pos{File: 0, Pkt: 2}, true},
		{Pos{File: 0, Pkt: 2}, Pos{File: 0, Pkt: 2}, false},
		{Pos{File: 0, Pkt: 9, TS: ts.Add(time.Hour)}, Pos{File: 1, Pkt: 1, TS: ts}, true}, // order is the input's, not the clock's
		{Pos{File: 1, Pkt: 1}, Pos{File: 0, Pkt: 9}, false},
	} {
		if got := c.p.Before(c.q); got != c.want {
			t.Errorf("%v.Before(%v) = %v", c.p, c.q, got)
		}
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{ClientToServer.String(), "client"},
		{ServerToClient.String(), "server"},
		{ClientToServer.Arrow(), "client→server"},
		{ClientToServer.Reverse().String(), "server"},
		{EndCaptureEnd.String(), "end-of-capture"},
		{EndEvicted.String(), "evicted"},
		{EndReason(200).String(), "end?"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
