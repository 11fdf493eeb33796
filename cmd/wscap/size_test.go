package main

import "testing"

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"65536", 65536, true}, {"64KiB", 64 << 10, true}, {"64MiB", 64 << 20, true}, {"4GiB", 4 << 30, true},
		{"1.5MB", 1_500_000, true}, {"2kb", 2000, true}, {"16M", 16 << 20, true}, {" 8 KiB ", 8 << 10, true}, {"12B", 12, true},
		{"", 0, false}, {"KiB", 0, false}, {"-1", 0, false}, {"64XiB", 0, false}, {"NaN", 0, false}, {"1e30GiB", 0, false},
	} {
		got, err := parseSize(c.in)
		if (err == nil) != c.ok || c.ok && got != c.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for n, want := range map[int64]string{64 << 20: "64MiB", 4 << 30: "4GiB", 1000: "1000", 3 << 10: "3KiB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
