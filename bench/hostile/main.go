// Command hostile writes the hostile captures of the issue "Hostile
// input, round two" at full size, for bench/hostile.sh to time and
// measure (the tests run them too, some smaller).
//
//	go run ./bench/hostile -case NAME [-n N] -o FILE
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/wscap/wscap/internal/hostile"
)

func main() {
	name := flag.String("case", "", "synflood, reversed, shuffled or bomb")
	n := flag.Int("n", 0, "size: connections (synflood), segments (reversed, shuffled), messages (bomb)")
	out := flag.String("o", "", "file to write")
	flag.Parse()
	var b []byte
	switch *name {
	case "synflood":
		b = hostile.SYNFlood(or(*n, 500000))
	case "reversed":
		b = hostile.ReorderedSegments(or(*n, 200000), false)
	case "shuffled":
		b = hostile.ReorderedSegments(or(*n, 200000), true)
	case "bomb":
		b = hostile.RepeatedBomb(1<<20, or(*n, 2000))
	default:
		fmt.Fprintf(os.Stderr, "hostile: unknown -case %q\n", *name)
		os.Exit(2)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
}

func or(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}
