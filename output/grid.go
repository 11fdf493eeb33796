package output

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/mattn/go-runewidth"
)

// widths decides how many columns a rune takes; it does not depend on the
// environment (runewidth.NewCondition reads the locale).
var widths = &runewidth.Condition{StrictEmojiNeutral: true}

// runeWidth returns the columns r takes on a terminal.
func runeWidth(r rune) int {
	if r < 0x80 {
		return 1
	}
	return widths.RuneWidth(r)
}

// grid streams an ASCII table with fixed column widths, in the style of
// tablewriter's; a cell longer than its column is cut with "…", or, in the
// columns marked to wrap, continued on the next lines. It exists because
// the views stream a row per message or connection, hundreds of thousands
// of them, and tablewriter costs tens of times more per row (bench/NOTES.md).
// Widths are display
// columns: a wide rune (CJK, most emoji) takes two, a combining mark none
// (go-runewidth's tables, East Asian ambiguous runes narrow, whatever the
// locale), and the ANSI colour sequences wscap itself adds none.
type grid struct {
	w        io.Writer
	widths   []int
	right    []bool // right-aligned columns
	wrap     []bool // columns whose long cells wrap
	grow     []bool // columns that widen for a long cell (numbers: never cut)
	buf      []byte
	lines    [][]string
	one      []string // backing for the cells that take one line
	oneWidth []int    // their widths; -1 for a cell cut or wrapped
}

func newGrid(w io.Writer, widths []int) *grid { return &grid{w: w, widths: widths} }

func (g *grid) line() error {
	g.buf = append(g.buf[:0], '+')
	for _, w := range g.widths {
		for range w + 2 {
			g.buf = append(g.buf, '-')
		}
		g.buf = append(g.buf, '+')
	}
	g.buf = append(g.buf, '\n')
	_, err := g.w.Write(g.buf)
	return err
}

// fit widens the grow columns whose cell in cells does not fit, taking
// the columns from the first wrap column while it keeps 10. It reports
// whether a width changed.
func (g *grid) fit(cells []string) bool {
	changed := false
	for i, c := range cells {
		if i >= len(g.grow) || !g.grow[i] {
			continue
		}
		d := visibleWidth(c) - g.widths[i]
		if d <= 0 {
			continue
		}
		g.widths[i] += d
		changed = true
		for j, w := range g.wrap {
			if w && g.widths[j]-d >= 10 {
				g.widths[j] -= d
				break
			}
		}
	}
	return changed
}

// banner writes a row of one cell across every column.
func (g *grid) banner(text string) error {
	inner := 3 * (len(g.widths) - 1)
	for _, w := range g.widths {
		inner += w
	}
	text = truncateWidth(text, inner)
	g.buf = append(append(g.buf[:0], "| "...), text...)
	g.buf = append(appendSpaces(g.buf, inner-visibleWidth(text)), " |\n"...)
	_, err := g.w.Write(g.buf)
	return err
}

func (g *grid) row(cells []string) error {
	// Split every cell into the lines it takes.
	g.lines = g.lines[:0]
	if len(g.one) < len(g.widths) {
		g.one = make([]string, len(g.widths))
		g.oneWidth = make([]int, len(g.widths))
	}
	height := 1
	for i, w := range g.widths {
		c := ""
		if i < len(cells) {
			c = cells[i]
		}
		var ls []string
		g.oneWidth[i] = -1
		switch cw := visibleWidth(c); {
		case cw <= w:
			g.one[i] = c
			g.oneWidth[i] = cw
			ls = g.one[i : i+1 : i+1]
		case i < len(g.wrap) && g.wrap[i]:
			ls = wrapRunes(c, w)
		default:
			ls = []string{truncateWidth(c, w-1) + "…"}
		}
		g.lines = append(g.lines, ls)
		height = max(height, len(ls))
	}
	g.buf = g.buf[:0]
	for l := range height {
		g.buf = append(g.buf, '|')
		for i, w := range g.widths {
			c := ""
			if l < len(g.lines[i]) {
				c = g.lines[i][l]
			}
			pad := w - g.oneWidth[i] // a one-line cell, measured above
			if l > 0 || g.oneWidth[i] < 0 {
				pad = w - visibleWidth(c)
			}
			g.buf = append(g.buf, ' ')
			if i < len(g.right) && g.right[i] {
				g.buf = appendSpaces(g.buf, pad)
				g.buf = append(g.buf, c...)
			} else {
				g.buf = append(g.buf, c...)
				g.buf = appendSpaces(g.buf, pad)
			}
			g.buf = append(g.buf, ' ', '|')
		}
		g.buf = append(g.buf, '\n')
	}
	_, err := g.w.Write(g.buf)
	return err
}

const spaces = "                                                                "

func appendSpaces(b []byte, n int) []byte {
	for n > len(spaces) {
		b = append(b, spaces...)
		n -= len(spaces)
	}
	if n > 0 {
		b = append(b, spaces[:n]...)
	}
	return b
}

// visibleWidth counts the columns s takes on a terminal: ANSI colour
// sequences (ESC [ ... m) take none.
func visibleWidth(s string) int {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] == 0x1b {
			ascii = false
			break
		}
	}
	if ascii {
		return len(s)
	}
	n := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && s[j] != 'm' {
				j++
			}
			i = j + 1
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n += runeWidth(r)
	}
	return n
}

// wrapRunes breaks s into lines of at most w columns, at the last space
// that fits when there is one.
func wrapRunes(s string, w int) []string {
	var out []string
	for visibleWidth(s) > w {
		cut := truncateWidth(s, w)
		if cut == "" { // a rune wider than the column: it goes alone
			_, size := utf8.DecodeRuneInString(s)
			cut = s[:size]
		}
		if i := strings.LastIndexByte(cut, ' '); i > 0 {
			out = append(out, cut[:i])
			s = s[i+1:]
			continue
		}
		out = append(out, cut)
		s = s[len(cut):]
	}
	return append(out, s)
}

// truncateWidth returns the longest prefix of s that takes at most n
// columns (colour sequences are not expected in what is cut).
func truncateWidth(s string, n int) string {
	for i, r := range s {
		n -= runeWidth(r)
		if n < 0 {
			return s[:i]
		}
	}
	return s
}
