// Command realcap records the real WebSocket captures under testdata/real.
//
// For each scenario it starts a WebSocket server on loopback (in-process for the Go
// libraries, a subprocess for Python's websockets and node's ws), starts tcpdump on that
// port, runs the scripted client, stops tcpdump, and writes NAME.pcap (or .pcapng) and
// NAME.json (a realcap.Expectation) into -out. It needs root, tcpdump, python3-websockets
// and node's ws package; internal/thirdparty/realcap/regen.sh installs those and runs it.
// It is in the module internal/thirdparty, whose directory its default paths are relative to:
//
//	cd internal/thirdparty && go run ./realcap/cmd/realcap -node-path /tmp/x/node_modules
//
// Capture method: tcpdump on "lo" (link type EN10MB), snaplen 262144 (whole packets, the
// loopback MTU is 65536), --immediate-mode and -U so that SIGINT loses nothing; libpcap
// drops the PACKET_OUTGOING copy that AF_PACKET sees on loopback, so every segment is
// recorded once.
package main

import (
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
