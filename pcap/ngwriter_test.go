package pcap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// TestNgWriterBytes: the blocks as written, byte for byte: a section
// header naming the application, an interface when its link type first
// comes (nanosecond resolution, no snapshot length), an Enhanced Packet
// Block padded to 32 bits with both lengths as given.
func TestNgWriterBytes(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewNgWriter(&buf, NgWriterOptions{Application: "wscap"})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(0, 0x0000000100000002).UTC()
	if err := w.WritePacket(Record{Data: []byte{0xaa, 0xbb, 0xcc}, TS: ts, Length: 60, LinkType: layers.LinkTypeEthernet}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	want := strings.Join([]string{
		// Section Header Block: length 44, magic, 1.0, length -1, shb_userappl "wscap", end.
		"0a0d0d0a 2c000000 4d3c2b1a 0100 0000 ffffffffffffffff 0400 0500 7773636170000000 00000000 2c000000",
		// Interface Description Block: Ethernet, snaplen 0, if_tsresol 9, end.
		"01000000 20000000 0100 0000 00000000 0900 0100 09000000 00000000 20000000",
		// Enhanced Packet Block: interface 0, time high and low, 3 captured of 60, data, pad.
		"06000000 24000000 00000000 01000000 02000000 03000000 3c000000 aabbcc00 24000000",
	}, "")
	if got := hex.EncodeToString(buf.Bytes()); got != strings.ReplaceAll(want, " ", "") {
		t.Errorf("bytes\n got %s\nwant %s", got, strings.ReplaceAll(want, " ", ""))
	}
}

// TestNgWriterRoundTrip: what File reads back is what was written: the
// link types (one interface each, in any order), the bytes, both lengths
// (an original length below the captured one too) and the nanosecond
// timestamps; the secrets are found by DecryptionSecrets, a key log over
// 1 MiB cut between lines into blocks File reads.
func TestNgWriterRoundTrip(t *testing.T) {
	var long strings.Builder
	for i := 0; long.Len() < 3<<20; i++ {
		fmt.Fprintf(&long, "CLIENT_RANDOM %064x %096x\n", i, i)
	}
	secrets := [][]byte{[]byte("CLIENT_RANDOM 01 02\n"), []byte(long.String())}
	base := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	recs := []Record{
		{Data: []byte{1, 2, 3, 4}, TS: base, Length: 4, LinkType: layers.LinkTypeEthernet},
		{Data: []byte{5}, TS: base.Add(time.Nanosecond), Length: 1500, LinkType: layers.LinkTypeLinuxSLL},
		{Data: []byte{}, TS: base.Add(-time.Hour), Length: 0, LinkType: layers.LinkTypeRaw},
		{Data: bytes.Repeat([]byte{7}, 65535), TS: base.Add(time.Second), Length: 65535, LinkType: layers.LinkTypeEthernet},
		{Data: []byte{8, 9, 10}, TS: base.Add(2 * time.Second), Length: 2, LinkType: layers.LinkTypeLinuxSLL},
	}
	var buf bytes.Buffer
	w, err := NewNgWriter(&buf, NgWriterOptions{Application: "test", Secrets: secrets, BufferSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.WritePacket(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Packets() != len(recs) {
		t.Errorf("Packets() %d", w.Packets())
	}
	f, err := NewFile("written", bytes.NewReader(buf.Bytes()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Format() != FormatPcapNG {
		t.Errorf("format %v", f.Format())
	}
	for i, want := range recs {
		got, err := f.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !bytes.Equal(got.Data, want.Data) || !got.TS.Equal(want.TS) || got.Length != want.Length || got.LinkType != want.LinkType {
			t.Errorf("record %d: %d bytes of %d at %v, %v; want %d of %d at %v, %v", i, len(got.Data), got.Length, got.TS, got.LinkType, len(want.Data), want.Length, want.TS, want.LinkType)
		}
	}
	if _, err := f.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the records: %v", err)
	}
	blobs, err := DecryptionSecrets(bytes.NewReader(buf.Bytes()))
	if err != nil || len(blobs) < 4 || !bytes.Equal(bytes.Join(blobs, nil), bytes.Join(secrets, nil)) {
		t.Errorf("secrets: %d blobs, %v", len(blobs), err)
	}
	for _, b := range blobs[1:] {
		if len(b) > maxSecretsChunk || b[len(b)-1] != '\n' {
			t.Errorf("a block of %d bytes not cut at a line", len(b))
		}
	}
	// No packet: a section (and its secrets) that reads as an empty capture.
	buf.Reset()
	w, _ = NewNgWriter(&buf, NgWriterOptions{Secrets: secrets[:1]})
	w.Flush()
	if f, err := NewFile("empty", bytes.NewReader(buf.Bytes()), nil); err != nil {
		t.Error(err)
	} else if _, err := f.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("empty: %v", err)
	}
}
