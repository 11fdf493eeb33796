// Package testcaps finds the captures bundled in testdata, for the tests of
// several packages.
package testcaps

import (
	"io/fs"
	"os"
	"path/filepath"
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
// (public, real, snaplen, nonws, h2 and app) of at most max bytes each: fuzz seeds.
func Seeds(root string, max int64) ([][]byte, error) {
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
