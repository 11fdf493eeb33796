// Command wscap analyses WebSocket traffic in packet captures and on live
// interfaces: handshakes, frames, messages, permessage-deflate and every
// RFC 6455 rule a peer breaks.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
