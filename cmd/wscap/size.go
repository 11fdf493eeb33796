package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// sizeValue is a byte count flag that accepts the units the docs use:
// "65536", "64KiB", "64MiB", "4GiB", "1.5MB" (KB, MB, GB are powers of 1000;
// KiB, MiB, GiB and the bare K, M, G powers of 1024, as tcpdump's -B).
type sizeValue struct {
	p   *int64
	max int64
}

func (s sizeValue) String() string { return formatSize(*s.p) }
func (s sizeValue) Type() string   { return "size" }

func (s sizeValue) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	if n < 0 || n > s.max {
		return fmt.Errorf("%s is outside 0 to %s", v, formatSize(s.max))
	}
	*s.p = n
	return nil
}

// parseSize reads a byte count with an optional unit.
func parseSize(v string) (int64, error) {
	t := strings.TrimSpace(v)
	units := []struct {
		suffix string
		mul    float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mul := 1.0
	for _, u := range units {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			t, mul = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mul
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || f < 0 {
		return 0, fmt.Errorf("%q is not a size (a number of bytes, or one with a unit: 64KiB, 64MiB, 4GiB)", v)
	}
	n := f * mul
	if n > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is too large", v)
	}
	return int64(n), nil
}

// formatSize writes n with the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// sizeVar registers a size flag stored in an int64.
func sizeVar(fs *pflag.FlagSet, p *int64, name string, def, max int64, usage string) {
	*p = def
	fs.Var(sizeValue{p, max}, name, usage)
}

// usizeValue is sizeValue for a uint64 (--max-frame takes up to 2^64-1).
type usizeValue struct{ p *uint64 }

func (s usizeValue) String() string { return formatSize(int64(min(*s.p, math.MaxInt64))) }
func (s usizeValue) Type() string   { return "size" }

func (s usizeValue) Set(v string) error {
	if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
		*s.p = n // a plain number: the whole range
		return nil
	}
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s.p = uint64(n)
	return nil
}
