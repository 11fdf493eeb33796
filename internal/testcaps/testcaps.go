// Package testcaps finds the captures bundled in testdata, for the tests of
// several packages.
package testcaps

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Find returns the capture files (.pcap, .pcapng, .dump) below dir, in
// lexical order.
func Find(dir string) ([]string, error) {
	var caps []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch filepath.Ext(path) {
		case ".pcap", ".pcapng", ".dump":
			caps = append(caps, path)
		}
		return nil
	})
	return caps, err
}

// Seeds returns the contents of the captures bundled below root/testdata
// (public, real, snaplen, nonws, h2 and app) of at most max bytes each, the
// fuzz seeds of the fuzz tests that read whole captures. It fails tb when
// it finds none or cannot read one.
func Seeds(tb testing.TB, root string, max int64) [][]byte {
	tb.Helper()
	seeds, err := seeds(root, max)
	if err != nil || len(seeds) == 0 {
		tb.Fatalf("no captures under %s/testdata (%v)", root, err)
	}
	return seeds
}

func seeds(root string, max int64) ([][]byte, error) {
	var seeds [][]byte
	for _, dir := range []string{"public", "real", "snaplen", "nonws", "h2", "app"} {
		caps, err := Find(filepath.Join(root, "testdata", dir))
		if err != nil {
			return seeds, err
		}
		for _, c := range caps {
			if st, err := os.Stat(c); err != nil || st.Size() > max {
				continue
			}
			b, err := os.ReadFile(c)
			if err != nil {
				return seeds, err
			}
			seeds = append(seeds, b)
		}
	}
	return seeds, nil
}
