package filter

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// filterPacket is one packet of the test corpus: a network-layer packet
// (or ARP) wrapped in each link type by linkFrame.
type filterPacket struct {
	name  string
	proto layers.EthernetType
	net   []byte
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(buf.Bytes())
}

func filterCorpus(t testing.TB) []filterPacket {
	ip4 := func(src, dst string, proto layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	}
	ip6 := func(src, dst string, proto layers.IPProtocol) *layers.IPv6 {
		return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	}
	tcp := func(ip gopacket.NetworkLayer, sp, dp int) *layers.TCP {
		l := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Seq: 1, ACK: true, Window: 512}
		l.SetNetworkLayerForChecksum(ip)
		return l
	}
	udp := func(ip gopacket.NetworkLayer, sp, dp int) *layers.UDP {
		l := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
		l.SetNetworkLayerForChecksum(ip)
		return l
	}
	payload := gopacket.Payload("hello")
	var ps []filterPacket
	add := func(name string, proto layers.EthernetType, ls ...gopacket.SerializableLayer) {
		ps = append(ps, filterPacket{name, proto, serialize(t, ls...)})
	}
	v4 := layers.EthernetTypeIPv4
	v6 := layers.EthernetTypeIPv6

	a := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP)
	add("tcp4-c2s", v4, a, tcp(a, 40000, 8080), payload)
	a = ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolTCP)
	add("tcp4-s2c", v4, a, tcp(a, 8080, 40000), payload)
	a = ip4("10.0.0.1", "10.0.0.3", layers.IPProtocolUDP)
	add("udp4", v4, a, udp(a, 5353, 53), payload)
	a = ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolICMPv4)
	add("icmp4", v4, a, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}, payload)
	// A later fragment of a TCP segment: its first bytes look like ports 8080 → 8080.
	a = ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP)
	a.FragOffset = 100
	add("frag4", v4, a, gopacket.Payload([]byte{0x1f, 0x90, 0x1f, 0x90, 0, 0, 0, 0}))
	// IPv4 with 4 bytes of options: ports are found through the header length.
	a = ip4("192.168.1.1", "10.0.0.2", layers.IPProtocolTCP)
	a.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
	add("tcp4-opts", v4, a, tcp(a, 443, 55555), payload)
	b := ip6("2001:db8::1", "2001:db8::2", layers.IPProtocolTCP)
	add("tcp6-c2s", v6, b, tcp(b, 40000, 8080), payload)
	b = ip6("2001:db8::2", "2001:db8::1", layers.IPProtocolTCP)
	add("tcp6-s2c", v6, b, tcp(b, 8080, 40000), payload)
	b = ip6("fe80::1", "ff02::1:2", layers.IPProtocolUDP)
	add("udp6", v6, b, udp(b, 546, 547), payload)
	// An IPv4-mapped source must not be mistaken for an IPv4 packet's address.
	b = ip6("::ffff:10.0.0.1", "2001:db8::2", layers.IPProtocolTCP)
	add("tcp6-mapped", v6, b, tcp(b, 40001, 80), payload)
	add("arp", layers.EthernetTypeARP, &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
		SourceHwAddress: []byte{2, 0, 0, 0, 0, 1}, SourceProtAddress: []byte{10, 0, 0, 1},
		DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 2}})
	return ps
}

// linkFrame wraps p in a frame of link type lt; ok is false where that link
// type cannot carry the packet (ARP as raw IP).
func linkFrame(t testing.TB, lt layers.LinkType, p filterPacket) ([]byte, bool) {
	isIP := p.proto == layers.EthernetTypeIPv4 || p.proto == layers.EthernetTypeIPv6
	switch lt {
	case layers.LinkTypeEthernet:
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: p.proto}
		return serialize(t, eth, gopacket.Payload(p.net)), true
	case layers.LinkTypeLinuxSLL:
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[0:], 0)  // to us
		binary.BigEndian.PutUint16(h[2:], 1)  // ARPHRD_ETHER
		binary.BigEndian.PutUint16(h[4:], 6)  // address length
		copy(h[6:], []byte{2, 0, 0, 0, 0, 1}) // address
		binary.BigEndian.PutUint16(h[14:], uint16(p.proto))
		return append(h, p.net...), true
	case layers.LinkTypeRaw:
		return p.net, isIP
	}
	t.Fatalf("no frame for link type %v", lt)
	return nil, false
}

var filterLinkTypes = []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeRaw}

var filterCases = []struct {
	expr   string
	accept []string // names of the packets accepted (on every link type that carries them)
}{
	{"", []string{"tcp4-c2s", "tcp4-s2c", "udp4", "icmp4", "frag4", "tcp4-opts", "tcp6-c2s", "tcp6-s2c", "udp6", "tcp6-mapped", "arp"}},
	{"tcp", []string{"tcp4-c2s", "tcp4-s2c", "frag4", "tcp4-opts", "tcp6-c2s", "tcp6-s2c", "tcp6-mapped"}},
	{"udp", []string{"udp4", "udp6"}},
	{"ip", []string{"tcp4-c2s", "tcp4-s2c", "udp4", "icmp4", "frag4", "tcp4-opts"}},
	{"ip6", []string{"tcp6-c2s", "tcp6-s2c", "udp6", "tcp6-mapped"}},
	{"not ip and not ip6", []string{"arp"}},
	{"port 8080", []string{"tcp4-c2s", "tcp4-s2c", "tcp6-c2s", "tcp6-s2c"}},
	{"tcp port 8080", []string{"tcp4-c2s", "tcp4-s2c", "tcp6-c2s", "tcp6-s2c"}},
	{"udp port 8080", nil},
	{"tcp dst port 8080", []string{"tcp4-c2s", "tcp6-c2s"}},
	{"src port 8080", []string{"tcp4-s2c", "tcp6-s2c"}},
	{"port 53", []string{"udp4"}},
	{"port 55555", []string{"tcp4-opts"}},
	{"tcp src or dst port 443", []string{"tcp4-opts"}},
	{"src and dst port 40000", nil},
	{"port 8080 or 53", []string{"tcp4-c2s", "tcp4-s2c", "tcp6-c2s", "tcp6-s2c", "udp4"}},
	{"portrange 500-600", []string{"udp6"}},
	{"tcp portrange 443-8080", []string{"tcp4-c2s", "tcp4-s2c", "tcp4-opts", "tcp6-c2s", "tcp6-s2c"}},
	{"portrange 80-80", []string{"tcp6-mapped"}},
	{"host 10.0.0.1", []string{"tcp4-c2s", "tcp4-s2c", "udp4", "icmp4", "frag4", "arp"}},
	{"src host 10.0.0.1", []string{"tcp4-c2s", "udp4", "icmp4", "frag4", "arp"}},
	{"dst host 10.0.0.1", []string{"tcp4-s2c"}},
	{"dst host 10.0.0.2", []string{"tcp4-c2s", "icmp4", "frag4", "tcp4-opts", "arp"}},
	{"ip host 10.0.0.1", []string{"tcp4-c2s", "tcp4-s2c", "udp4", "icmp4", "frag4"}},
	{"ip host 10.0.0.3", []string{"udp4"}},
	{"host 2001:db8::1", []string{"tcp6-c2s", "tcp6-s2c"}},
	{"ip6 dst host 2001:db8::2", []string{"tcp6-c2s", "tcp6-mapped"}},
	{"host ::ffff:10.0.0.1", []string{"tcp4-c2s", "tcp4-s2c", "udp4", "icmp4", "frag4", "arp"}},
	{"host 10.0.0.1 or host 2001:db8::1", []string{"tcp4-c2s", "tcp4-s2c", "udp4", "icmp4", "frag4", "tcp6-c2s", "tcp6-s2c", "arp"}},
	{"net 10.0.0.0/8", []string{"tcp4-c2s", "tcp4-s2c", "udp4", "icmp4", "frag4", "tcp4-opts", "arp"}},
	{"ip net 10.0.0.0/31", []string{"tcp4-c2s", "tcp4-s2c", "udp4", "icmp4", "frag4"}},
	{"src net 192.168.0.0/16", []string{"tcp4-opts"}},
	{"net 2001:db8::/32", []string{"tcp6-c2s", "tcp6-s2c", "tcp6-mapped"}},
	{"net fe80::/10", []string{"udp6"}},
	{"dst net ff00::/8", []string{"udp6"}},
	{"tcp and not port 8080", []string{"frag4", "tcp4-opts", "tcp6-mapped"}},
	{"tcp && !(port 8080 || port 443)", []string{"frag4", "tcp6-mapped"}},
	{"(host 10.0.0.1 and port 8080) or (ip6 and tcp port 80)", []string{"tcp4-c2s", "tcp4-s2c", "tcp6-mapped"}},
	{"not tcp", []string{"udp4", "icmp4", "udp6", "arp"}},
	{"tcp and host 10.0.0.2 and dst port 8080", []string{"tcp4-c2s"}},
}

// TestCompileFilter runs each compiled program in x/net/bpf's VM over real
// packet bytes, framed in every supported link type.
func TestCompileFilter(t *testing.T) {
	corpus := filterCorpus(t)
	for _, lt := range filterLinkTypes {
		for _, tc := range filterCases {
			t.Run(fmt.Sprintf("%s/%s", lt, tc.expr), func(t *testing.T) {
				prog, err := Compile(tc.expr, lt, 1000)
				if err != nil {
					t.Fatal(err)
				}
				vm, err := bpf.NewVM(prog)
				if err != nil {
					t.Fatalf("VM rejects the program: %v\n%s", err, dumpProgram(prog))
				}
				for _, p := range corpus {
					frame, ok := linkFrame(t, lt, p)
					if !ok {
						continue
					}
					n, err := vm.Run(frame)
					if err != nil {
						t.Fatalf("%s: %v", p.name, err)
					}
					want := 0
					if slices.Contains(tc.accept, p.name) {
						want = 1000
					}
					if n != want {
						t.Errorf("%s: program returned %d, want %d\n%s", p.name, n, want, dumpProgram(prog))
					}
				}
			})
		}
	}
}

// TestCompileFilterAgreesWithLibpcap compares every verdict with the program
// libpcap compiles for the same expression (tcpdump -ddd), where tcpdump is
// installed.
func TestCompileFilterAgreesWithLibpcap(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed: no libpcap to compare with")
	}
	corpus := filterCorpus(t)
	dlt := map[layers.LinkType]string{layers.LinkTypeEthernet: "EN10MB", layers.LinkTypeLinuxSLL: "LINUX_SLL", layers.LinkTypeRaw: "RAW"}
	for _, lt := range filterLinkTypes {
		for _, tc := range filterCases {
			if tc.expr == "" || strings.Contains(tc.expr, "::ffff:") { // libpcap refuses a mapped address for host
				continue
			}
			theirs, err := tcpdumpProgram(dlt[lt], tc.expr)
			if err != nil {
				t.Fatalf("tcpdump %q: %v", tc.expr, err)
			}
			ours, err := Compile(tc.expr, lt, 262144)
			if err != nil {
				t.Fatal(err)
			}
			vmTheirs, err := bpf.NewVM(theirs)
			if err != nil {
				t.Fatalf("%s %q: libpcap's program: %v", lt, tc.expr, err)
			}
			vmOurs, err := bpf.NewVM(ours)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range corpus {
				frame, ok := linkFrame(t, lt, p)
				if !ok {
					continue
				}
				a, _ := vmOurs.Run(frame)
				b, _ := vmTheirs.Run(frame)
				if (a != 0) != (b != 0) {
					t.Errorf("%s %q on %s: we %s, libpcap %s", lt, tc.expr, p.name, verdict(a), verdict(b))
				}
			}
		}
	}
}

func verdict(n int) string {
	if n != 0 {
		return "accept"
	}
	return "reject"
}

func tcpdumpProgram(dlt, expr string) ([]bpf.Instruction, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("tcpdump", "-ddd", "-y", dlt, expr)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	var raw []bpf.RawInstruction
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		var r bpf.RawInstruction
		if _, err := fmt.Sscan(sc.Text(), &r.Op, &r.Jt, &r.Jf, &r.K); err != nil {
			return nil, fmt.Errorf("line %q: %v", sc.Text(), err)
		}
		raw = append(raw, r)
	}
	prog, ok := bpf.Disassemble(raw)
	if !ok {
		return nil, errors.New("cannot disassemble libpcap's program")
	}
	return prog, nil
}

func dumpProgram(prog []bpf.Instruction) string {
	var b strings.Builder
	for i, ins := range prog {
		fmt.Fprintf(&b, "%3d  %v\n", i, ins)
	}
	return b.String()
}

func TestCompileFilterErrors(t *testing.T) {
	for _, expr := range []string{
		"tcp port", "port 70000", "port http", "host example.com", "ip host 2001:db8::1", "ip6 host 10.0.0.1",
		"tcp host 10.0.0.1", "(tcp", "tcp)", "and", "not", "portrange 5", "src tcp", "src", "tcp foo", "ether host 1",
		"80", "net 10.0.0.0/33", "vlan", "TCP",
	} {
		if _, err := Compile(expr, layers.LinkTypeEthernet, 0); !errors.Is(err, ErrExpr) {
			t.Errorf("%q: error %v, want one wrapping ErrExpr", expr, err)
		}
	}
	if _, err := Compile("tcp", layers.LinkTypePPP, 0); !errors.Is(err, ErrExpr) {
		t.Errorf("PPP: error %v, want one wrapping ErrExpr", err)
	}
}

// TestCompileFilterLongJumps checks that a program longer than a conditional
// jump's 8-bit reach still branches right.
func TestCompileFilterLongJumps(t *testing.T) {
	var parts []string
	for i := 1; i <= 60; i++ {
		parts = append(parts, fmt.Sprintf("host 2001:db8::%x", 0x100+i))
	}
	parts = append(parts, "host 2001:db8::1")
	expr := "tcp and (" + strings.Join(parts, " or ") + ")"
	prog, err := Compile(expr, layers.LinkTypeEthernet, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) < 300 {
		t.Fatalf("program has only %d instructions; the test wants one longer than 255", len(prog))
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range filterCorpus(t) {
		frame, _ := linkFrame(t, layers.LinkTypeEthernet, p)
		n, err := vm.Run(frame)
		if err != nil {
			t.Fatal(err)
		}
		want := p.name == "tcp6-c2s" || p.name == "tcp6-s2c"
		if (n != 0) != want {
			t.Errorf("%s: %s", p.name, verdict(n))
		}
	}
}

// FuzzCompileFilter: any expression either fails with ErrExpr or
// compiles to a program the VM accepts and runs over any packet.
func FuzzCompileFilter(f *testing.F) {
	for _, tc := range filterCases {
		f.Add(tc.expr, []byte{0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6})
	}
	f.Add("((((tcp))))", []byte{})
	f.Add("not not not port 1 or 2 or 3", []byte{0x60})
	f.Fuzz(func(t *testing.T, expr string, pkt []byte) {
		for _, lt := range filterLinkTypes {
			prog, err := Compile(expr, lt, 100)
			if err != nil {
				if !errors.Is(err, ErrExpr) {
					t.Fatalf("%q: error %v does not wrap ErrExpr", expr, err)
				}
				return
			}
			vm, err := bpf.NewVM(prog)
			if err != nil {
				t.Fatalf("%q: %v", expr, err)
			}
			if n, err := vm.Run(pkt); err != nil || (n != 0 && n != 100) {
				t.Fatalf("%q: returned %d, %v", expr, n, err)
			}
		}
	})
}
