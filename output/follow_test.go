package output

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/wscap/wscap/dissect"
)

// TestFollowPrefix: without Full, a long message shows a bounded prefix
// and says how to see the rest; Full and Msg show all of it.
func TestFollowPrefix(t *testing.T) {
	long := strings.Repeat("é", FollowText) // 2 bytes a rune: the cut must not split one
	bin := bytes.Repeat([]byte{0xab}, 3*FollowBinary)
	text := fmt.Sprintf(`,"ts":"2024-01-01T00:00:00Z","from":"server","opcode":"text","length":%d,"text":%q}`, len(long), long)
	data := fmt.Sprintf(`,"ts":"2024-01-01T00:00:00Z","from":"server","opcode":"binary","length":%d,"data":%q}`, len(bin), base64.StdEncoding.EncodeToString(bin))
	for _, tc := range []struct {
		name       string
		full       bool
		msg        int
		body       string
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
			if err := f.WriteRecord(&Encoded{Kind: dissect.KindMessage, Conn: 1, Bytes: []byte(tc.body)}); err != nil {
				t.Fatal(err)
			}
			f.Close()
			s := out.String()
			shown := strings.Count(s, "é")
			if tc.body == data {
				shown = strings.Count(s, " ab ab ab ab ab ab ab ab  ab ab ab ab ab ab ab ab ")
			}
			if shown != tc.shown || strings.Contains(s, tc.note) == tc.noteAbsent {
				t.Errorf("%d shown, want %d; note %q present: %v\n%.300s", shown, tc.shown, tc.note, !tc.noteAbsent, s)
			}
		})
	}
}
