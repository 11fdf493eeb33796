package prefetch

import (
	"testing"
	"unsafe"
)

// TestLines: hints on any address, valid or not, neither fault nor change
// memory.
func TestLines(t *testing.T) {
	b := []byte("unchanged")
	Lines(uintptr(unsafe.Pointer(&b[0])), 4)
	Lines(0, 2)
	Lines(1<<47, 1)
	if string(b) != "unchanged" {
		t.Fatal(string(b))
	}
}
