// Command hostile writes the hostile captures of the issue "Hostile
// input, round two" at full size, for bench/hostile.sh to time and
// measure (the tests run them too, some smaller).
//
//	go run ./bench/hostile -case NAME [-n N] -o FILE
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"flag"
	"fmt"
	"os"

	"github.com/wscap/wscap/internal/hostile"
)

func main() {
	name := flag.String("case", "", "synflood, reversed, shuffled, bomb, zeros or idbs")
	n := flag.Int("n", 0, "size: connections (synflood), segments (reversed, shuffled), messages (bomb), MiB of zeros after a pcap header, gzipped (zeros), Interface Description Blocks (idbs)")
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
	case "zeros":
		b = zeros(or(*n, 1024))
	case "idbs":
		b = idbs(or(*n, 1000000))
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

// zeros is a gzip file of a pcap header followed by mib MiB of zeros:
// records of no length, without end.
func zeros(mib int) []byte {
	var b bytes.Buffer
	z, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	binary.Write(z, binary.LittleEndian, []uint32{0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1})
	chunk := make([]byte, 1<<20)
	for range mib {
		z.Write(chunk)
	}
	z.Close()
	return b.Bytes()
}

// idbs is a pcapng file of a section header and n Interface Description
// Blocks.
func idbs(n int) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	binary.Write(&b, le, []uint32{0x0a0d0d0a, 28, 0x1a2b3c4d, 1, 0xffffffff, 0xffffffff, 28})
	for range n {
		binary.Write(&b, le, []uint32{1, 20, 1, 65535, 20})
	}
	return b.Bytes()
}
