// Command floor is the bare packet-reading floor that wscap's speed is
// measured against: read a capture with pcapgo and decode Ethernet/IP/TCP
// with gopacket's DecodingLayerParser, counting TCP payload bytes. Nothing
// else.
//
//	floor [-copy] FILE
//
// By default packets are read with ZeroCopyReadPacketData (no allocation,
// the strictest floor); -copy reads them with ReadPacketData, a new slice
// per packet, as a straightforward program would.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func main() {
	args := os.Args[1:]
	copying := len(args) > 1 && args[0] == "-copy"
	if copying {
		args = args[1:]
	}
	f, err := os.Open(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	r, err := pcapgo.NewReader(bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var (
		eth     layers.Ethernet
		ip4     layers.IPv4
		ip6     layers.IPv6
		tcp     layers.TCP
		decoded []gopacket.LayerType
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &ip6, &tcp)
	p.IgnoreUnsupported = true
	var packets, payload int64
	for {
		var data []byte
		if copying {
			data, _, err = r.ReadPacketData()
		} else {
			data, _, err = r.ZeroCopyReadPacketData()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		packets++
		p.DecodeLayers(data, &decoded)
		for _, t := range decoded {
			if t == layers.LayerTypeTCP {
				payload += int64(len(tcp.Payload))
			}
		}
	}
	fmt.Printf("%d packets, %d TCP payload bytes\n", packets, payload)
}
