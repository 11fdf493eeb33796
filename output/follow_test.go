package output

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wscap/wscap/dissect"
)

// TestFollowPrefix: without Full, a long message shows a bounded prefix
// and says how to see the rest; Full and Msg show all of it.
func TestFollowPrefix(t *testing.T) {
	long := strings.Repeat("é", FollowText) // 2 bytes a rune: the cut must not split one
	bin := bytes.Repeat([]byte{0xab}, 3*FollowBinary)
	msg := func(op dissect.Opcode, payload []byte) *dissect.Event {
		return &dissect.Event{Kind: dissect.KindMessage, Conn: &dissect.ConnInfo{}, Pos: dissect.Pos{TS: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
			Message: &dissect.Message{From: dissect.ServerToClient, Opcode: op, TextValid: op == dissect.OpText, Payload: payload, Length: int64(len(payload)), Frames: 1}}
	}
	text, data := msg(dissect.OpText, []byte(long)), msg(dissect.OpBinary, bin)
	for _, tc := range []struct {
		name       string
		full       bool
		msg        int
		ev         *dissect.Event
		shown      int // runes é or dump lines
		note       string
		noteAbsent bool
	}{
		{"text", false, 0, text, FollowText / 2, "… 16384 more bytes not shown (--full shows every message whole, --msg 1 this one)", false},
		{"text, full", true, 0, text, FollowText, "more bytes not shown", true},
		{"text, --msg", false, 1, text, FollowText, "more bytes not shown", true},
		{"binary", false, 0, data, FollowBinary / 16, "… 8192 more bytes not shown", false},
		{"binary, full", true, 0, data, 3 * FollowBinary / 16, "more bytes not shown", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			f := NewFollow(&out, false)
			f.Full, f.Msg = tc.full, tc.msg
			if err := f.WriteRecord(encoded(f.Encoder(), tc.ev, 1)); err != nil {
				t.Fatal(err)
			}
			f.Close()
			s := out.String()
			shown := strings.Count(s, "é")
			if tc.ev == data {
				shown = strings.Count(s, " ab ab ab ab ab ab ab ab  ab ab ab ab ab ab ab ab ")
			}
			if shown != tc.shown || strings.Contains(s, tc.note) == tc.noteAbsent {
				t.Errorf("%d shown, want %d; note %q present: %v\n%.300s", shown, tc.shown, tc.note, !tc.noteAbsent, s)
			}
		})
	}
}
