package main

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Fixed payloads, so that every run sends the same application bytes.

const loremText = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor " +
	"incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud " +
	"exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure " +
	"dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. "

// lorem returns the first n bytes of the Lorem ipsum text repeated.
func lorem(n int) string {
	return strings.Repeat(loremText, n/len(loremText)+1)[:n]
}

// pattern returns n structured bytes (all 256 values, compressible).
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>8)
	}
	return b
}

// noise returns n incompressible bytes from a fixed-seed xorshift64 generator.
func noise(n int, seed uint64) []byte {
	x := seed*0x9E3779B97F4A7C15 + 1
	b := make([]byte, n)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x >> 32)
	}
	return b
}

// doc returns a JSON-like text message of about 300 bytes; messages with the same seq are
// identical and different ones share most of their text, which is what context takeover
// (RFC 7692 §7.2.3.2) makes cheap.
func doc(seq int) string {
	return fmt.Sprintf(`{"seq":%d,"type":"quote","symbol":"WSCAP","bid":101.25,"ask":101.50,`+
		`"venue":"loopback","tags":["alpha","beta","gamma","delta"],"comment":%q}`,
		seq, lorem(160+seq%7))
}

// farRepeat returns a text of 2n hex digits whose second half repeats the first, at a
// distance of n: beyond a 2^10 window when n > 1024, within the default 2^15 one.
func farRepeat(n int, seed uint64) string {
	h := hex.EncodeToString(noise(n/2, seed))
	return h + h
}
