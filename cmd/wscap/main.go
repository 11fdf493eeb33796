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
		// The pipeline allocates little per packet; a lower GC target keeps
		// the peak memory near what the open connections need.
		debug.SetGCPercent(40)
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
