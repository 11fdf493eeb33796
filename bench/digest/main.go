// Command digest checks wscap's JSON Lines output against a wscapgen
// manifest: message counts and the order-independent digest of every
// message's plaintext. It exits 1, loudly, on a mismatch.
//
//	wscap read --format jsonl capture.pcap | digest capture.pcap.manifest.json
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"

	"github.com/wscap/wscap/internal/gen"
)

type record struct {
	Kind        string  `json:"kind"`
	From        string  `json:"from"`
	Opcode      string  `json:"opcode"`
	Text        *string `json:"text"`
	Data        []byte  `json:"data"`
	CloseCode   int     `json:"close_code"`
	CloseReason string  `json:"close_reason"`
	Truncated   bool    `json:"truncated"`
	Incomplete  bool    `json:"incomplete"`
	Undecodable bool    `json:"undecodable"`
	Severity    string  `json:"severity"`
	Code        string  `json:"code"`
	Detail      string  `json:"detail"`
}

var opcodes = map[string]byte{"continuation": 0, "text": 1, "binary": 2, "close": 8, "ping": 9, "pong": 10}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: wscap read --format jsonl FILE | digest FILE.manifest.json")
		os.Exit(2)
	}
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var m gen.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var d gen.Digest
	bad := 0
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(nil, 256<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			fmt.Fprintln(os.Stderr, "digest: bad line:", err)
			os.Exit(1)
		}
		switch r.Kind {
		case "message":
			payload := r.Data
			if r.Text != nil {
				payload = []byte(*r.Text)
			}
			if r.CloseCode != 0 {
				payload = append(binary.BigEndian.AppendUint16(nil, uint16(r.CloseCode)), r.CloseReason...)
			}
			if r.Truncated || r.Incomplete || r.Undecodable {
				bad++
			}
			d.Add(r.From == "client", opcodes[r.Opcode], payload)
		case "finding":
			if r.Severity != "info" {
				fmt.Fprintf(os.Stderr, "digest: finding %s: %s\n", r.Code, r.Detail)
				bad++
			}
		}
	}
	if d.String() != m.Digest || d.Count != m.DigestCount || bad > 0 {
		fmt.Fprintf(os.Stderr, "DIGEST MISMATCH: wscap %s over %d messages (%d not decoded whole or with findings), manifest %s over %d\n", d, d.Count, bad, m.Digest, m.DigestCount)
		os.Exit(1)
	}
	fmt.Printf("digest ok: %s over %d messages\n", d, d.Count)
}
