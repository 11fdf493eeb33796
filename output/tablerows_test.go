package output

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wscap/wscap/dissect"
)

// TestStatsSpill: a table whose rows went to a temporary file in sorted
// runs prints the same bytes as one kept in memory, rows by connection
// number, whatever order the connections ended in; the file is gone when
// the table is written, and a file that cannot be made (or a spill limit
// of 0) keeps the rows in memory.
func TestStatsSpill(t *testing.T) {
	const n = 3000
	ids := rand.New(rand.NewPCG(1, 2)).Perm(n)
	table := func(limit int, tmp string) (string, *Stats) {
		t.Setenv("TMPDIR", tmp)
		var out bytes.Buffer
		s := NewStats(&out, false)
		s.rows.limit = limit
		enc := s.Encoder()
		for _, i := range ids {
			id := i + 1
			ev := &dissect.Event{Kind: dissect.KindConnection, Conn: &dissect.ConnInfo{ID: id,
				Client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(id >> 8), byte(id)}), uint16(1024+id)),
				Server: netip.MustParseAddrPort("10.9.0.2:80"), Host: "h", Path: "/" + strings.Repeat("p", id%40)},
				Summary: &dissect.Summary{Client: dissect.DirStats{Messages: int64(id), Bytes: int64(id * 7)}}}
			if err := s.WriteRecord(encoded(enc, ev, id)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return out.String(), s
	}
	dir := t.TempDir()
	want, s := table(0, dir)
	if s.rows.spilled != 0 {
		t.Fatalf("limit 0 spilled %d rows", s.rows.spilled)
	}
	var lines []string
	for _, l := range strings.Split(want, "\n") {
		if f := strings.Fields(strings.Trim(l, "| ")); len(f) > 0 && l[0] == '|' && f[0] != "CONN" {
			lines = append(lines, f[0])
		}
	}
	if len(lines) != n+1 || lines[0] != "1" || lines[n-1] != fmt.Sprint(n) || lines[n] != "total" {
		t.Fatalf("rows %d: %q ... %q", len(lines), lines[:3], lines[len(lines)-3:])
	}
	for _, limit := range []int{1, 500, 20_000, 1 << 30} {
		got, s := table(limit, dir)
		spilled := s.rows.spilled
		if got != want {
			t.Errorf("limit %d: the table differs from the one kept in memory", limit)
		}
		if limit < 1<<30 && spilled == 0 {
			t.Errorf("limit %d: nothing spilled", limit)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("limit %d: %d files left in the temporary directory", limit, len(left))
		}
	}
	got, s := table(500, filepath.Join(dir, "missing"))
	if got != want || s.rows.spilled != 0 || s.rows.err == nil {
		t.Errorf("without a temporary directory: spilled %d, error %v, same table %v", s.rows.spilled, s.rows.err, got == want)
	}
}
