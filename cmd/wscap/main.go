// Command wscap analyses WebSocket traffic in packet captures and on live
// interfaces: handshakes, frames, messages, permessage-deflate and every
// RFC 6455 rule a peer breaks.
package main

import (
	"os"
	"runtime/debug"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The pipeline allocates little per packet, and what it keeps for
		// open connections is mostly reused: a GC target below the default
		// keeps the peak near what the open connections need. Measured on
		// the benchmark captures and on captures twice as long (MiB at
		// 60/70/80): medium ~45 and ~55 whatever the target; many 120/125/
		// 133 and 127/136/143, many taking 2-3 % less time per step.
		debug.SetGCPercent(70)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
