// Command wsapp runs the wsapp echo server or paced client (see package
// wsapp), for bench/live.sh and the live tests of cmd/wscap:
//
//	wsapp server [-compress] ADDR
//	wsapp client [-compress] [-n N] [-size S] [-rate R] [-clients C] URL
//	wsapp script [-n N] [-size S]
package main

import (
	"os"

	"github.com/wscap/wscap/internal/thirdparty/wsapp"
)

func main() { os.Exit(wsapp.Main(os.Args[1:], os.Stdout, os.Stderr)) }
