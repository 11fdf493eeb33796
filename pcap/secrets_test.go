package pcap

import (
	"bytes"
	"os"
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
