// Command wsapp runs the wsapp echo server or paced client (see package
// wsapp), for bench/live.sh:
//
//	wsapp server [-compress] ADDR
//	wsapp client [-compress] [-n N] [-size S] [-rate R] URL
package main

import (
	"os"

	"github.com/wscap/wscap/internal/wsapp"
)

func main() { os.Exit(wsapp.Main(os.Args[1:], os.Stdout, os.Stderr)) }
