package pcap

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDecryptionSecrets: the key log editcap --inject-secrets embedded is
// found; files without one, or not pcapng, give none; a cut file gives what
// came before the cut.
func TestDecryptionSecrets(t *testing.T) {
	dsb, err := os.ReadFile("../testdata/nonws/wss-chromium-dsb.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := os.ReadFile("../testdata/nonws/wss-chromium.keys")
	plain, _ := os.ReadFile("../testdata/nonws/wss-chromium.pcap")
	ng, _ := os.ReadFile("../testdata/public/zeek/oversized-close-frame.pcapng")
	for _, tc := range []struct {
		name  string
		data  []byte
		blobs int
		err   bool
	}{
		{"editcap", dsb, 1, false},
		{"pcap", plain, 0, false},
		{"pcapng without secrets", ng, 0, false},
		{"cut in the secrets", dsb[:300], 0, true},
		{"cut after the secrets", dsb[:0x6c+0x0b14+40], 1, false},
		{"empty", nil, 0, false},
		{"bad block length", append(append([]byte{}, dsb[:0x6c]...), 0x0a, 0, 0, 0, 5, 0, 0, 0, 'K', 'S', 'L', 'T'), 0, true},
	} {
		blobs, err := DecryptionSecrets(bytes.NewReader(tc.data))
		if len(blobs) != tc.blobs || (err != nil) != tc.err {
			t.Errorf("%s: %d blobs, %v", tc.name, len(blobs), err)
		}
		if tc.blobs == 1 && strings.TrimSpace(string(blobs[0])) != strings.TrimSpace(string(keys)) {
			t.Errorf("%s: the blob is not the key log:\n%q", tc.name, blobs[0][:min(80, len(blobs[0]))])
		}
	}
}

func FuzzDecryptionSecrets(f *testing.F) {
	dsb, err := os.ReadFile("../testdata/nonws/wss-chromium-dsb.pcapng")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(dsb[:1000])
	f.Fuzz(func(t *testing.T, b []byte) {
		blobs, _ := DecryptionSecrets(bytes.NewReader(b))
		n := 0
		for _, x := range blobs {
			n += len(x)
		}
		if n > len(b) {
			t.Fatalf("%d bytes of secrets from %d bytes", n, len(b))
		}
	})
}

// TestFileSecretsGzip: the secrets of a pcapng file are found whether it
// is gzip-compressed or not (read and split both use FileSecrets).
func TestFileSecretsGzip(t *testing.T) {
	const name = "../testdata/nonws/wss-chromium-dsb.pcapng"
	plain, err := FileSecrets(name)
	if err != nil || len(plain) == 0 {
		t.Fatalf("%s: %d secrets blocks, %v", name, len(plain), err)
	}
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	gzName := filepath.Join(t.TempDir(), "dsb.pcapng.gz")
	if err := os.WriteFile(gzName, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := FileSecrets(gzName)
	if err != nil || len(got) != len(plain) || !bytes.Equal(bytes.Join(got, nil), bytes.Join(plain, nil)) {
		t.Fatalf("gzip: %d blocks (%v), want %d", len(got), err, len(plain))
	}
	if s, err := FileSecrets("../testdata/real/gorilla-basic.pcap"); err != nil || s != nil {
		t.Errorf("a pcap file: %v, %v", s, err)
	}
}
