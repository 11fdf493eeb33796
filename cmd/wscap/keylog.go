package main

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/wscap/wscap/dissect/tls"
	"github.com/wscap/wscap/pcap"
)

// loadKeyLogs reads the key logs named by --keylog into one KeyLog (nil
// without any). Lines that cannot be used are reported and skipped.
func loadKeyLogs(e *env, names []string) (*tls.KeyLog, error) {
	if len(names) == 0 {
		return nil, nil
	}
	k := tls.NewKeyLog()
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("--keylog: %w", err)
		}
		n, bad, err := k.Read(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("--keylog %s: %w", name, err)
		}
		for _, b := range bad {
			e.errorf("--keylog %s: %v (skipped)", name, &b)
		}
		if n == 0 {
			e.errorf("--keylog %s: no secrets in it", name)
		}
	}
	return k, nil
}

// embeddedSecrets adds the TLS key logs embedded in the input files
// (pcapng Decryption Secrets Blocks) to k, which it creates when there are
// some and k is nil. Standard input and gzip-compressed files are not
// searched: the blocks are found by seeking.
func embeddedSecrets(e *env, inputs []input, k *tls.KeyLog) *tls.KeyLog {
	for _, inp := range inputs {
		if inp.name == "-" {
			continue
		}
		// A missing or damaged file is reported once, by the reader: the
		// secrets found before the damage are used.
		blobs, _ := pcap.FileSecrets(inp.name)
		for _, b := range blobs {
			if k == nil {
				k = tls.NewKeyLog()
			}
			_, bad, _ := k.Read(bytes.NewReader(b))
			for _, l := range bad {
				e.errorf("%s: Decryption Secrets Block: %v (skipped)", inp.name, &l)
			}
		}
	}
	return k
}

// followKeyLogs re-reads the key logs every interval while a live capture
// runs, adding the lines appended since (a line is read once it is
// complete). It returns a function that stops it and then reports the
// lines it could not use.
func followKeyLogs(e *env, names []string, k *tls.KeyLog, interval time.Duration) (stop func()) {
	offsets := make([]int64, len(names))
	for i, name := range names {
		if st, err := os.Stat(name); err == nil {
			offsets[i] = st.Size() // read at the start already
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var bad []string // reported by stop: stderr is the main goroutine's
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			for i, name := range names {
				offsets[i] = readKeyLogTail(name, offsets[i], k, &bad)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		for _, b := range bad {
			e.errorf("%s", b)
		}
	}
}

// readKeyLogTail adds the complete lines of name after offset to k and
// returns the offset after the last of them; lines it cannot use are
// appended to bad.
func readKeyLogTail(name string, offset int64, k *tls.KeyLog, bad *[]string) int64 {
	f, err := os.Open(name)
	if err != nil {
		return offset
	}
	defer f.Close()
	st, err := f.Stat()
	switch {
	case err != nil:
		return offset
	case st.Size() < offset:
		offset = 0 // truncated and written again: read it from the start
	case st.Size() == offset:
		return offset
	}
	b := make([]byte, min(st.Size()-offset, 16<<20))
	n, _ := f.ReadAt(b, offset)
	b = b[:n]
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		return offset
	}
	_, lines, _ := k.Read(bytes.NewReader(b[:end+1]))
	for _, l := range lines {
		*bad = append(*bad, fmt.Sprintf("--keylog %s: %v (skipped; lines counted from byte %d)", name, &l, offset))
	}
	return offset + int64(end+1)
}
