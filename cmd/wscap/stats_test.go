package main

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wscap/wscap/internal/gen"
)

// TestStatsWithoutPayloads: stats, which measures uncompressed messages
// without keeping them (dissect.Options.NoPayload), says exactly what it
// says when it keeps them, caps and findings included: on every bundled
// capture, on generated ones, and on text with runes cut across segments,
// invalid UTF-8 and loss inside a message.
func TestStatsWithoutPayloads(t *testing.T) {
	caps := publicCaptures(t)
	real, _ := filepath.Glob("../../testdata/real/*.pcap*")
	caps = append(caps, real...)
	for _, sc := range []string{"demo", "lengths"} {
		path, _ := generate(t, sc, gen.Options{Seed: 3}, gen.ScenarioParams{})
		caps = append(caps, path)
	}
	c := gen.New(gen.Options{Seed: 5})
	runes := strings.Repeat("é東😀a", 3000)
	for i, o := range []gen.ConnOptions{{}, {Transform: dropSteps(2, gen.FromServer, 1)}, {Transform: dropSteps(3, gen.FromClient, 2)}} {
		o.Client = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 7, byte(i)}), 41000)
		conn := c.Conn(o)
		conn.Handshake(gen.Handshake{})
		conn.Text(gen.FromClient, runes[:1+i])                                                                            // 1
		conn.Send(gen.FromServer, gen.Message{Opcode: gen.OpText, Payload: []byte(runes)})                                // 2: many segments
		conn.Send(gen.FromClient, gen.Message{Opcode: gen.OpText, Payload: []byte(runes[:9000] + "\xff" + runes[:9000])}) // 3: invalid
		conn.Send(gen.FromServer, gen.Message{Opcode: gen.OpText, Payload: []byte(runes[:5000]), Fragments: 4})
		conn.Send(gen.FromClient, gen.Message{Opcode: gen.OpText, Payload: []byte(runes[:4000] + "\xe2\x82"), Fragments: 3})
		conn.Close(gen.FromClient, 1000, "")
		conn.Close(gen.FromServer, 1000, "")
		conn.Teardown()
	}
	caps = append(caps, impairFile(t, c))
	for _, extra := range [][]string{nil, {"--max-message", "1001"}, {"--max-message", "7", "--max-assembling", "9000"}, {"--max-message", "20000", "--max-assembling", "25000"}} {
		args := append(append([]string{"stats", "--format", "jsonl", "--workers", "1"}, extra...), caps...)
		statsKeepPayload = true
		want, _, _ := wscap(t, args...)
		statsKeepPayload = false
		got, _, _ := wscap(t, args...)
		if got != want || !strings.Contains(want, `"kind":"connection"`) {
			t.Errorf("%v: without payloads differs:\n%s", extra, firstDiff(got, want))
		}
	}
}
