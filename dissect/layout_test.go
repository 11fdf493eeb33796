package dissect

import (
	"testing"
	"unsafe"
)

// TestConnLayout keeps a Conn within the allocator's 1,792-byte size
// class and connMore within 256 bytes (there are hundreds of thousands of
// them), and the second direction's state on a cache line of its own
// start, where Conn.Prefetch loads it. The sizes are those of 64-bit
// platforms.
func TestConnLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are for 64-bit platforms")
	}
	var c Conn
	if n := unsafe.Sizeof(c); n > 1792 {
		t.Errorf("Conn is %d bytes, more than its 1,792-byte size class", n)
	}
	if n := unsafe.Sizeof(connMore{}); n > 256 {
		t.Errorf("connMore is %d bytes, more than its 256-byte size class", n)
	}
	if n := unsafe.Sizeof(h2Stream{}); n > 1792 {
		t.Errorf("h2Stream is %d bytes, more than the 1,792-byte size class", n)
	}
	if off := unsafe.Offsetof(c.dirs) + unsafe.Sizeof(c.dirs[0]); off%64 != 0 {
		t.Errorf("the second direction starts at byte %d of a Conn, not on a cache line", off)
	}
}
