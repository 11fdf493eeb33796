package output

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/wscap/wscap/dissect"
)

// TestVisibleWidth: columns on a terminal, not runes or bytes.
func TestVisibleWidth(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{
		{"hello", 5},
		{"héllo", 5},              // precomposed
		{"he\u0301llo", 5},        // a combining acute accent takes no column
		{"你好", 4},                 // CJK: two each
		{"🌍", 2},                  // emoji presentation: two
		{"ünïcödé ✓ 𝄞 ∑", 13},     // narrow symbols
		{"—", 1},                  // East Asian ambiguous: narrow
		{"\x1b[31mred\x1b[0m", 3}, // wscap's own colours take none
		{"", 0},
	} {
		if got := visibleWidth(c.s); got != c.want {
			t.Errorf("visibleWidth(%q) = %d, want %d", c.s, got, c.want)
		}
	}
}

// TestGridWideRunes: rows with wide runes, cut or wrapped, are as wide as
// the borders.
func TestGridWideRunes(t *testing.T) {
	var b bytes.Buffer
	g := newGrid(&b, []int{5, 7})
	g.wrap = []bool{false, true}
	g.line()
	for _, cells := range [][]string{
		{"你好你好", "héllo wörld — Привет — 你好 — 🌍"},
		{"🌍🌍🌍", "你你你你你你你你"},
		{"a\u0301b", "ok"},
	} {
		if err := g.row(cells); err != nil {
			t.Fatal(err)
		}
	}
	g.line()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	for _, l := range lines {
		if w := visibleWidth(l); w != visibleWidth(lines[0]) {
			t.Errorf("line %q is %d columns, the border %d", l, w, visibleWidth(lines[0]))
		}
	}
}

// TestSafeTextBackslash: text shows as it was sent, backslashes and all
// (JSON escapes read as JSON); only what acts on a terminal is escaped.
func TestSafeTextBackslash(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"path":"C:\\temp","msg":"a\nb"}`, `{"path":"C:\\temp","msg":"a\nb"}`},
		{`\x1b is not ESC`, `\x1b is not ESC`},
		{"real \x1b[31m ESC", `real \x1b[31m ESC`},
		{"tab\tnewline\n", `tab\tnewline\n`},
	} {
		if got := SafeText(c.in, 0); got != c.want {
			t.Errorf("SafeText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestFilterHost: --host as the views display it (host:port) or bare.
func TestFilterHost(t *testing.T) {
	for _, c := range []struct {
		header, want string
		ok           bool
	}{
		{"chat.example.com:8080", "chat.example.com", true},
		{"chat.example.com:8080", "chat.example.com:8080", true},
		{"chat.example.com:8080", "chat.example.com:9090", false},
		{"chat.example.com", "chat.example.com:8080", false},
		{"a.chat.example.com:443", "*.example.com", true},
		{"[2001:db8::1]:8080", "[2001:db8::1]", true},
		{"[2001:db8::1]:8080", "[2001:db8::1]:8080", true},
		{"CHAT.example.com", "chat.EXAMPLE.com", true},
	} {
		f := &Filter{Host: c.want}
		if got := f.connOK(&dissect.ConnInfo{Host: c.header}); got != c.ok {
			t.Errorf("Host %q, --host %q: %v", c.header, c.want, got)
		}
	}
}

// TestCommunityID checks the Community ID against the spec's examples
// (community-id-spec baseline: tcp 128.232.110.120:34855 → 66.35.250.204:80)
// and that both directions give one ID.
func TestCommunityID(t *testing.T) {
	a, b := netip.MustParseAddrPort("128.232.110.120:34855"), netip.MustParseAddrPort("66.35.250.204:80")
	if got := CommunityID(a, b); got != "1:LQU9qZlK+B5F3KDmev6m5PMibrg=" {
		t.Errorf("CommunityID = %s", got)
	}
	if CommunityID(a, b) != CommunityID(b, a) {
		t.Errorf("the directions differ")
	}
	if m := netip.MustParseAddrPort("[::ffff:128.232.110.120]:34855"); CommunityID(m, b) != CommunityID(a, b) {
		t.Errorf("an IPv4-mapped address hashes differently")
	}
}
