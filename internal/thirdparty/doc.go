// Package thirdparty is the root of a module of its own that holds wscap's
// test programs linking third-party WebSocket libraries, so that the wscap
// module requires only what the wscap binary links (as coder/websocket
// keeps its third-party tests in internal/thirdparty):
//
//   - wsapp: the echo server (gorilla/websocket) and client
//     (coder/websocket) that the live tests of cmd/wscap and bench/live.sh
//     run as the program wsapp/cmd/wsapp;
//   - realcap: the captures under testdata/real, described and checked with
//     a parser of its own, and realcap/cmd/realcap, the recorder that made
//     them with gorilla/websocket, coder/websocket, Python's websockets and
//     node's ws.
//
// go test ./... in the repository's root does not enter this module; the
// test command in the README runs both.
package thirdparty
