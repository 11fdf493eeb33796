package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/wscap/wscap/internal/gen"
)

// TestKeepAliveUpgrades: every upgrade request on a keep-alive connection
// is read, also after a refusal; each is a session with its own number;
// websocket_connections counts those that opened, rejected_upgrades the
// others.
func TestKeepAliveUpgrades(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int // of the upgrades, in order, on one TCP connection
		opened   float64
		rejected float64
	}{
		{"three refused", []int{426, 426, 403}, 0, 3},
		{"refused then accepted", []int{426, 101}, 1, 1},
		{"accepted", []int{101}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := gen.New(gen.Options{Seed: 9})
			conn := c.Conn(gen.ConnOptions{Client: netip.MustParseAddrPort("198.18.0.5:41000")})
			for _, st := range tc.statuses {
				conn.Handshake(gen.Handshake{Status: st, Path: "/chat"})
			}
			conn.Text(gen.FromServer, "hello")
			conn.Close(gen.FromClient, 1000, "")
			conn.Close(gen.FromServer, 1000, "")
			conn.Teardown()
			path := impairFile(t, c)
			out, stderr, code := wscap(t, "read", "--format", "jsonl", path)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var hs, conns []map[string]any
			var totals map[string]any
			for _, r := range records(t, out) {
				switch r["kind"] {
				case "handshake":
					hs = append(hs, r)
				case "connection":
					conns = append(conns, r)
				case "totals":
					totals = r
				}
			}
			if len(hs) != len(tc.statuses) || len(conns) != len(tc.statuses) {
				t.Fatalf("%d handshakes, %d connection records for %d upgrades:\n%s", len(hs), len(conns), len(tc.statuses), out)
			}
			for i, h := range hs {
				if h["status"] != float64(tc.statuses[i]) || h["conn"] != float64(i+1) || conns[i]["conn"] != float64(i+1) {
					t.Errorf("upgrade %d: handshake %v, connection %v", i+1, h, conns[i])
				}
				if want := tc.statuses[i] != 101; (conns[i]["end"] == "rejected") != want {
					t.Errorf("upgrade %d ended %v", i+1, conns[i]["end"])
				}
			}
			p := totals["protocols"].(map[string]any)
			if totals["websocket_connections"] != tc.opened || totals["rejected_upgrades"] != tc.rejected || p["websocket"] != tc.opened || p["http"] != 1-tc.opened {
				t.Errorf("totals %v", totals)
			}
			if tc.opened == 1 && !strings.Contains(out, `"text":"hello"`) {
				t.Errorf("the message after the accepted upgrade is missing")
			}
		})
	}
}
