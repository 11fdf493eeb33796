// Command wscap analyses WebSocket traffic in packet captures and on live
// interfaces: handshakes, frames, messages, permessage-deflate and every
// RFC 6455 rule a peer breaks.
package main

import "os"

func main() {
	if os.Getenv("GOGC") == "" {
		// A target below the default keeps the peak near what the open
		// connections need (figures: bench/NOTES.md).
		tuneGC(60, 24<<20) // for the whole run
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
