package output

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wscap/wscap/dissect"
)

// tableLines renders events through a Table of the given options and
// returns its lines.
func tableLines(t *testing.T, o TableOptions, evs []dissect.Event) []string {
	t.Helper()
	var out bytes.Buffer
	tb := NewTable(&out, o)
	for i := range evs {
		if err := tb.Emit(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	tb.Close()
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

func tableEvents() []dissect.Event {
	day := time.Date(2026, 11, 25, 23, 59, 59, 500000000, time.UTC)
	conn := &dissect.ConnInfo{ID: 1}
	big := &dissect.ConnInfo{ID: 1234567} // wider than the column
	msg := func(c *dissect.ConnInfo, pkt uint64, ts time.Time, op dissect.Opcode, length int64, payload string) dissect.Event {
		return dissect.Event{Kind: dissect.KindMessage, Conn: c, Pos: dissect.Pos{Pkt: pkt, TS: ts},
			Message: &dissect.Message{From: dissect.ServerToClient, Opcode: op, Length: length, Payload: []byte(payload), TextValid: true}}
	}
	return []dissect.Event{
		msg(conn, 7, day, dissect.OpText, 13, "Hello, wscap! 你好 🌍 and then some more text to fill the payload column"),
		msg(conn, 8, day.Add(time.Second), dissect.OpContinuation, 5, "after midnight"), // the date changes
		msg(big, 123456789, day.Add(2*time.Second), dissect.OpBinary, 1<<40, "\x00\x01"),
	}
}

// TestTableFits: at any terminal width the table is one width, as wide as
// the terminal where it can be (the payload keeps 20 columns); the date
// is a row of its own; numbers and "continuation" are never cut.
func TestTableFits(t *testing.T) {
	for _, width := range []int{0, 60, 80, 86, 100, 102, 120, 122, 160, 200} {
		lines := tableLines(t, TableOptions{Width: width}, tableEvents())
		w := visibleWidth(lines[0])
		for _, l := range lines {
			if visibleWidth(l) != w {
				t.Errorf("width %d: lines of %d and %d columns:\n%s", width, w, visibleWidth(l), strings.Join(lines, "\n"))
				break
			}
		}
		if width >= 80 && w != width {
			t.Errorf("width %d: the table is %d wide", width, w)
		}
		all := strings.Join(lines, "\n")
		for _, want := range []string{"| 2026-11-25 (UTC)", "| 2026-11-26 (UTC)", "1234567", "1099511627776", "continuation", "23:59:59.5"} {
			if !strings.Contains(all, want) {
				t.Errorf("width %d: no %q in\n%s", width, want, all)
			}
		}
		if strings.Contains(all, "2026-11-25 23:") {
			t.Errorf("width %d: a row repeats the date", width)
		}
		hasPkt := strings.Contains(lines[1], "PKT")
		if want := width == 0 || width >= 102; hasPkt != want || hasPkt != strings.Contains(all, "123456789") {
			t.Errorf("width %d: packet column %v, want %v", width, hasPkt, want)
		}
		if short := strings.Contains(all, "s→c"); short != (width > 0 && width < 122) {
			t.Errorf("width %d: short directions %v", width, short)
		}
	}
}

func TestFitTable(t *testing.T) {
	for _, tc := range []struct {
		width, maxPayload int
		want              tableLayout
	}{
		{0, 0, tableLayout{clock: 15, pkt: true, conn: 5, len: 8, payload: 60}},
		{0, 33, tableLayout{clock: 15, pkt: true, conn: 5, len: 8, payload: 33}},
		{80, 33, tableLayout{clock: 15, pkt: true, conn: 5, len: 8, payload: 33}},
		{200, 0, tableLayout{clock: 15, pkt: true, conn: 5, len: 8, payload: 118}},
		{110, 0, tableLayout{clock: 15, pkt: true, shortFrom: true, conn: 5, len: 8, payload: 38}},
		{90, 0, tableLayout{clock: 15, shortFrom: true, conn: 5, len: 8, payload: 28}},
		{80, 0, tableLayout{clock: 12, shortFrom: true, conn: 4, len: 7, payload: 23}},
		{40, 0, tableLayout{clock: 12, shortFrom: true, conn: 4, len: 7, payload: 20}},
	} {
		if got := fitTable(tc.width, tc.maxPayload); got != tc.want {
			t.Errorf("fitTable(%d, %d) = %+v, want %+v", tc.width, tc.maxPayload, got, tc.want)
		}
		if l := fitTable(tc.width, 0); tc.width >= 80 && l.fixed()+l.payload != tc.width {
			t.Errorf("width %d: the layout is %d wide", tc.width, l.fixed()+l.payload)
		}
	}
}
