// Command wscap analyses WebSocket traffic in packet captures and on live
// interfaces: handshakes, frames, messages, permessage-deflate and every
// RFC 6455 rule a peer breaks.
package main

import "os"

func main() {
	if os.Getenv("GOGC") == "" {
		// The pipeline allocates little per packet, and what it keeps for
		// open connections is mostly reused: a GC target below the default
		// keeps the peak near what the open connections need. Measured on
		// the benchmark captures and on captures twice as long (MiB at
		// 60/70/80): medium ~45 and ~55 whatever the target; many 120/125/
		// 133 and 127/136/143, many taking 2-3 % less time per step.
		// The first collections come no sooner than every 32 MiB (see
		// tuneGC): 4 collections instead of 9 on many, 3-4 % less time, the
		// same peak (floors of 0/32/40/48 MiB, many: 118/117/117/122 MiB,
		// medium twice as long: 52/53/59/62 MiB).
		tuneGC(70, 32<<20) // for the whole run
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
