package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestTooManyInterfaces: a pcapng file describing more interfaces than a
// capture has stops with a clear error before the reader keeps them all.
func TestTooManyInterfaces(t *testing.T) {
	var b bytes.Buffer
	le := binary.LittleEndian
	// Section header block: type, length 28, magic, version 1.0, section length -1.
	for _, v := range []uint32{0x0a0d0d0a, 28, 0x1a2b3c4d, 1, 0xffffffff, 0xffffffff, 28} {
		binary.Write(&b, le, v)
	}
	for range maxInterfaces + 10 {
		// Interface description block: link type 1, snaplen 65535.
		for _, v := range []uint32{1, 20, 1, 65535, 20} {
			binary.Write(&b, le, v)
		}
	}
	f, err := NewFile("idb-flood.pcapng", &b, nil)
	if err == nil {
		_, err = f.Next()
	}
	if err == nil || !strings.Contains(err.Error(), "more than the 4096 wscap reads") {
		t.Fatalf("error %v", err)
	}
}

// TestEmptyRecords: a pcap header followed by zeros (records of no length)
// stops with a clear error after a run of them instead of reading on.
func TestEmptyRecords(t *testing.T) {
	var b bytes.Buffer
	le := binary.LittleEndian
	for _, v := range []uint32{0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1} {
		binary.Write(&b, le, v)
	}
	b.Write(make([]byte, 16*(maxEmptyRecords+50)))
	f, err := NewFile("zeros.pcap", &b, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, err = f.Next()
		if err != nil {
			break
		}
		n++
	}
	if errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "hold no packet") || n >= maxEmptyRecords {
		t.Fatalf("%d records, then %v", n, err)
	}
}
