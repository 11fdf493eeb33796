package pcap

import (
	"errors"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// TestLiveFilterCompiler: live capture compiles with the built-in
// compiler, or with libpcap's in a build with the libpcap tag.
func TestLiveFilterCompiler(t *testing.T) {
	if _, err := compileLiveFilter("tcp port 80", layers.LinkTypeEthernet, 100); err != nil {
		t.Fatal(err)
	}
	_, err := compileLiveFilter("tcp[13] & 2 != 0", layers.LinkTypeEthernet, 100)
	if _, libpcap := any(liveFilter{}).(libpcapCompiler); libpcap {
		if err != nil {
			t.Errorf("libpcap build: %v", err)
		}
	} else if !errors.Is(err, ErrFilter) {
		t.Errorf("pure-Go build: %v, want ErrFilter", err)
	}
}
