// Package filter compiles capture filter expressions, a subset of
// tcpdump's language (pcap-filter(7)), into classic BPF programs: the
// kernel's socket filter for live capture, and x/net/bpf's VM for files.
// It knows link types and IP, TCP and UDP headers; it is a package of its
// own, as gopacket keeps ip4defrag apart from its decoders.
package filter

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// ErrExpr is wrapped by every error about a capture filter expression.
var ErrExpr = errors.New("capture filter")

// Compile compiles a capture filter expression into a classic BPF
// program for packets of link type lt, as the kernel's socket filter sees
// them. An accepted packet is kept up to snaplen bytes (the program's
// return value); an empty expression accepts every packet.
//
// The language is a subset of tcpdump's (pcap-filter(7)), with the same
// meaning for what it accepts:
//
//	expr      = term { ("or" | "||") term }
//	term      = factor { ("and" | "&&") factor }
//	factor    = ("not" | "!") factor | "(" expr ")" | primitive
//	primitive = "ip" | "ip6" | "tcp" | "udp"
//	          | [proto] [dir] ("host" ADDR | "net" CIDR | "port" N | "portrange" N-M)
//	          | ADDR | N           (reuses the qualifiers of the primitive before)
//	proto     = "ip" | "ip6" | "tcp" | "udp"
//	dir       = "src" | "dst" | "src or dst" | "src and dst"
//
// ADDR is a literal IPv4 or IPv6 address (no host names), CIDR an address
// with an optional /bits. An IPv4 "host" or "net" without "ip" also matches
// ARP and RARP addresses, as in tcpdump. "port" without "tcp" or "udp" matches TCP, UDP and
// SCTP, as in tcpdump; IPv4 fragments after the first never match a port.
// IPv6 extension headers are not followed: "tcp" and "port" match IPv6
// packets whose first next-header is TCP (or UDP, SCTP).
//
// Link types: Ethernet (frames without an 802.1Q tag; Linux strips VLAN tags
// before packet sockets see them, and loopback is Ethernet too), Linux
// cooked (SLL), raw IP (IPv4 or IPv6 by the version nibble) and IPv4 or IPv6
// alone.
func Compile(expr string, lt layers.LinkType, snaplen int) ([]bpf.Instruction, error) {
	l, ok := filterLinks[lt]
	if !ok {
		return nil, fmt.Errorf("%w: link type %s is not supported by the built-in compiler", ErrExpr, lt)
	}
	if snaplen <= 0 {
		snaplen = defaultSnaplen
	}
	n, err := parseFilter(expr)
	if err != nil {
		return nil, err
	}
	c := &filterCompiler{link: l}
	accept, reject := c.newLabel(), c.newLabel()
	if n != nil {
		if err := c.gen(n, accept, reject); err != nil {
			return nil, err
		}
	}
	c.mark(accept)
	c.emit(bpf.RetConstant{Val: uint32(snaplen)})
	c.mark(reject)
	c.emit(bpf.RetConstant{Val: 0})
	prog, err := c.assemble()
	if err != nil {
		return nil, err
	}
	if len(prog) > maxFilterInstructions {
		return nil, fmt.Errorf("%w: %q compiles to %d instructions, more than the kernel's %d", ErrExpr, expr, len(prog), maxFilterInstructions)
	}
	return prog, nil
}

// defaultSnaplen is what a program keeps of an accepted packet when Compile
// is given no snaplen (pcap.DefaultSnaplen, the same).
const defaultSnaplen = 262144

const maxFilterInstructions = 4096 // BPF_MAXINSNS

// filterLink says where a link type keeps the network protocol and header.
type filterLink struct {
	// protoOff is the offset of the 16-bit EtherType; -1 when the IP version
	// nibble of the first byte tells the protocol (raw IP).
	protoOff int
	netOff   uint32
	only     int // 4 or 6 when the link type carries only that IP version
}

var filterLinks = map[layers.LinkType]filterLink{
	layers.LinkTypeEthernet: {protoOff: 12, netOff: 14},
	layers.LinkTypeLinuxSLL: {protoOff: 14, netOff: 16},
	layers.LinkTypeRaw:      {protoOff: -1},
	layers.LinkTypeIPv4:     {protoOff: -1, only: 4},
	layers.LinkTypeIPv6:     {protoOff: -1, only: 6},
}

// Filter syntax tree.

type (
	filterNode interface{}
	andNode    struct{ a, b filterNode }
	orNode     struct{ a, b filterNode }
	notNode    struct{ a filterNode }
	primNode   struct {
		proto string // "", "ip", "ip6", "tcp", "udp"
		dir   string // "", "src", "dst", "and" (src and dst)
		kind  string // "", "host", "net", "port", "portrange"
		net   netip.Prefix
		lo    uint16
		hi    uint16
	}
)

type filterParser struct {
	toks []string
	pos  int
	last *primNode // qualifiers for a bare address or number
}

func parseFilter(expr string) (filterNode, error) {
	p := &filterParser{toks: tokenizeFilter(expr)}
	if len(p.toks) == 0 {
		return nil, nil
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, p.errorf("unexpected %q", p.toks[p.pos])
	}
	return n, nil
}

func tokenizeFilter(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, s[i:i+1])
			i++
		case c == '!':
			toks = append(toks, "!")
			i++
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||"):
			toks = append(toks, s[i:i+2])
			i += 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()!&|", rune(s[j])) {
				j++
			}
			if j == i { // a lone '&' or '|'
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

func (p *filterParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrExpr, fmt.Sprintf(format, args...))
}

func (p *filterParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *filterParser) or() (filterNode, error) {
	a, err := p.and()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t == "or" || t == "||"; t = p.peek() {
		p.pos++
		b, err := p.and()
		if err != nil {
			return nil, err
		}
		a = orNode{a, b}
	}
	return a, nil
}

func (p *filterParser) and() (filterNode, error) {
	a, err := p.factor()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t == "and" || t == "&&"; t = p.peek() {
		p.pos++
		b, err := p.factor()
		if err != nil {
			return nil, err
		}
		a = andNode{a, b}
	}
	return a, nil
}

func (p *filterParser) factor() (filterNode, error) {
	switch t := p.peek(); t {
	case "":
		return nil, p.errorf("expression ends too early")
	case "not", "!":
		p.pos++
		a, err := p.factor()
		if err != nil {
			return nil, err
		}
		return notNode{a}, nil
	case "(":
		p.pos++
		a, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, p.errorf("missing )")
		}
		p.pos++
		return a, nil
	}
	return p.primitive()
}

var (
	filterProtos = map[string]bool{"ip": true, "ip6": true, "tcp": true, "udp": true}
	filterKinds  = map[string]bool{"host": true, "net": true, "port": true, "portrange": true}
)

func (p *filterParser) primitive() (filterNode, error) {
	var n primNode
	start := p.pos
	if t := p.peek(); filterProtos[t] {
		n.proto = t
		p.pos++
	}
	switch t := p.peek(); t {
	case "src", "dst":
		n.dir = t
		p.pos++
		// "src or dst" and "src and dst" qualify one primitive.
		other := "dst"
		if t == "dst" {
			other = "src"
		}
		if c := p.peek(); (c == "or" || c == "and") && p.pos+1 < len(p.toks) && p.toks[p.pos+1] == other {
			if c == "and" {
				n.dir = "and"
			} else {
				n.dir = ""
			}
			p.pos += 2
		}
	}
	if t := p.peek(); filterKinds[t] {
		n.kind = t
		p.pos++
	}
	if n.kind == "" {
		if n.dir != "" {
			return nil, p.errorf("%q needs host, net, port or portrange", p.toks[p.pos-1])
		}
		if n.proto != "" {
			if t := p.peek(); t != "" && t != "and" && t != "or" && t != "&&" && t != "||" && t != ")" {
				return nil, p.errorf("unexpected %q after %q (supported: host, net, port, portrange)", p.toks[p.pos], n.proto)
			}
			return n, nil
		}
		// A bare value: tcpdump's "port 80 or 443" reuses the qualifiers.
		if p.pos >= len(p.toks) {
			return nil, p.errorf("expression ends too early")
		}
		if p.last != nil {
			n = *p.last
		} else {
			n.kind = "host"
		}
	}
	if p.pos >= len(p.toks) {
		return nil, p.errorf("%q needs a value", strings.Join(p.toks[start:p.pos], " "))
	}
	val := p.toks[p.pos]
	p.pos++
	if err := n.setValue(val); err != nil {
		return nil, p.errorf("%v", err)
	}
	last := n
	p.last = &last
	return n, nil
}

func (n *primNode) setValue(v string) error {
	switch n.kind {
	case "host", "net":
		if n.proto == "tcp" || n.proto == "udp" {
			return fmt.Errorf("%q cannot qualify %q (use ip, ip6 or nothing)", n.proto, n.kind)
		}
		if n.kind == "host" {
			a, err := netip.ParseAddr(v)
			if err != nil {
				return fmt.Errorf("host %q: not a literal IPv4 or IPv6 address (host names are not resolved)", v)
			}
			a = a.Unmap()
			n.net = netip.PrefixFrom(a, a.BitLen())
		} else {
			pfx, err := netip.ParsePrefix(v)
			if err != nil {
				a, err2 := netip.ParseAddr(v)
				if err2 != nil {
					return fmt.Errorf("net %q: not an address or address/bits", v)
				}
				pfx = netip.PrefixFrom(a, a.BitLen())
			}
			if pfx.Addr().Is4In6() {
				pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
			}
			n.net = pfx.Masked()
		}
		if n.net.Addr().Is4() && n.proto == "ip6" || n.net.Addr().Is6() && n.proto == "ip" {
			return fmt.Errorf("%s %s cannot be an address of %s", n.kind, v, n.proto)
		}
	case "port":
		port, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return fmt.Errorf("port %q: not a number from 0 to 65535 (service names are not resolved)", v)
		}
		n.lo, n.hi = uint16(port), uint16(port)
	case "portrange":
		a, b, ok := strings.Cut(v, "-")
		lo, err1 := strconv.ParseUint(a, 10, 16)
		hi, err2 := strconv.ParseUint(b, 10, 16)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("portrange %q: want N-M with numbers from 0 to 65535", v)
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		n.lo, n.hi = uint16(lo), uint16(hi)
	default:
		return fmt.Errorf("unexpected %q", v)
	}
	return nil
}

// Code generation: every node is compiled with the labels to jump to when
// it holds (t) and when it does not (f). Labels are resolved at the end;
// a conditional jump too far for its 8-bit offsets goes through "ja".

type label int

type filterItem struct {
	ins    bpf.Instruction // a plain instruction, or nil
	cond   bpf.JumpTest    // a conditional jump when isCond
	val    uint32
	t, f   label
	isCond bool
	isJump bool // an unconditional jump to t
	mark   label
	isMark bool
	long   bool // a conditional jump expanded to jcond 0,1; ja t; ja f
}

type filterCompiler struct {
	link    filterLink
	items   []filterItem
	nlabels int
}

func (c *filterCompiler) newLabel() label { c.nlabels++; return label(c.nlabels - 1) }
func (c *filterCompiler) mark(l label) {
	c.items = append(c.items, filterItem{mark: l, isMark: true})
}
func (c *filterCompiler) emit(ins bpf.Instruction) { c.items = append(c.items, filterItem{ins: ins}) }
func (c *filterCompiler) jump(l label)             { c.items = append(c.items, filterItem{t: l, isJump: true}) }
func (c *filterCompiler) jif(cond bpf.JumpTest, val uint32, t, f label) {
	c.items = append(c.items, filterItem{cond: cond, val: val, t: t, f: f, isCond: true})
}

func (c *filterCompiler) ldb(off uint32) { c.emit(bpf.LoadAbsolute{Off: off, Size: 1}) }
func (c *filterCompiler) ldh(off uint32) { c.emit(bpf.LoadAbsolute{Off: off, Size: 2}) }
func (c *filterCompiler) ld(off uint32)  { c.emit(bpf.LoadAbsolute{Off: off, Size: 4}) }

func (c *filterCompiler) assemble() ([]bpf.Instruction, error) {
	pos := make([]int, c.nlabels)
	for {
		n := 0
		for _, it := range c.items {
			switch {
			case it.isMark:
				pos[it.mark] = n
			case it.long:
				n += 3
			default:
				n++
			}
		}
		changed := false
		n = 0
		for i := range c.items {
			it := &c.items[i]
			switch {
			case it.isMark:
				continue
			case it.isCond && !it.long:
				if pos[it.t]-(n+1) > 255 || pos[it.f]-(n+1) > 255 {
					it.long, changed = true, true
				}
			}
			if it.long {
				n += 3
			} else {
				n++
			}
		}
		if changed {
			continue
		}
		prog := make([]bpf.Instruction, 0, n)
		for _, it := range c.items {
			at := len(prog)
			switch {
			case it.isMark:
			case it.long:
				prog = append(prog,
					bpf.JumpIf{Cond: it.cond, Val: it.val, SkipTrue: 0, SkipFalse: 1},
					bpf.Jump{Skip: uint32(pos[it.t] - (at + 2))},
					bpf.Jump{Skip: uint32(pos[it.f] - (at + 3))})
			case it.isCond:
				prog = append(prog, bpf.JumpIf{Cond: it.cond, Val: it.val,
					SkipTrue: uint8(pos[it.t] - (at + 1)), SkipFalse: uint8(pos[it.f] - (at + 1))})
			case it.isJump:
				prog = append(prog, bpf.Jump{Skip: uint32(pos[it.t] - (at + 1))})
			default:
				prog = append(prog, it.ins)
			}
		}
		return prog, nil
	}
}

func (c *filterCompiler) gen(n filterNode, t, f label) error {
	switch n := n.(type) {
	case andNode:
		mid := c.newLabel()
		if err := c.gen(n.a, mid, f); err != nil {
			return err
		}
		c.mark(mid)
		return c.gen(n.b, t, f)
	case orNode:
		mid := c.newLabel()
		if err := c.gen(n.a, t, mid); err != nil {
			return err
		}
		c.mark(mid)
		return c.gen(n.b, t, f)
	case notNode:
		return c.gen(n.a, f, t)
	case primNode:
		c.prim(n, t, f)
		return nil
	}
	return fmt.Errorf("%w: internal error: node %T", ErrExpr, n)
}

// ipIs jumps to t when the packet is IP version v, to f otherwise.
func (c *filterCompiler) ipIs(v int, t, f label) {
	switch {
	case c.link.only != 0:
		if c.link.only == v {
			c.jump(t)
		} else {
			c.jump(f)
		}
	case c.link.protoOff < 0:
		c.ldb(0)
		c.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
		c.jif(bpf.JumpEqual, uint32(v)<<4, t, f)
	default:
		c.ldh(uint32(c.link.protoOff))
		et := uint32(layers.EthernetTypeIPv4)
		if v == 6 {
			et = uint32(layers.EthernetTypeIPv6)
		}
		c.jif(bpf.JumpEqual, et, t, f)
	}
}

// versions returns the IP versions a primitive applies to.
func (n primNode) versions() []int {
	switch {
	case n.proto == "ip", n.net.IsValid() && n.net.Addr().Is4():
		return []int{4}
	case n.proto == "ip6", n.net.IsValid() && n.net.Addr().Is6():
		return []int{6}
	}
	return []int{4, 6}
}

// transports returns the IP protocol numbers a primitive applies to.
func (n primNode) transports() []uint32 {
	switch {
	case n.proto == "tcp":
		return []uint32{uint32(layers.IPProtocolTCP)}
	case n.proto == "udp":
		return []uint32{uint32(layers.IPProtocolUDP)}
	case n.kind == "port" || n.kind == "portrange":
		return []uint32{uint32(layers.IPProtocolTCP), uint32(layers.IPProtocolUDP), uint32(layers.IPProtocolSCTP)}
	}
	return nil
}

func (c *filterCompiler) prim(n primNode, t, f label) {
	// The alternatives: each IP version the primitive applies to and, as in
	// tcpdump, ARP and RARP for an IPv4 host or net without "ip".
	type alt struct {
		check func(t, f label)
		body  func(t, f label)
	}
	var alts []alt
	for _, v := range n.versions() {
		alts = append(alts, alt{func(t, f label) { c.ipIs(v, t, f) }, func(t, f label) { c.primIP(n, v, t, f) }})
	}
	if (n.kind == "host" || n.kind == "net") && n.proto == "" && n.net.Addr().Is4() && c.link.protoOff >= 0 {
		check := func(t, f label) {
			c.ldh(uint32(c.link.protoOff))
			rarp := c.newLabel()
			c.jif(bpf.JumpEqual, uint32(layers.EthernetTypeARP), t, rarp)
			c.mark(rarp)
			c.jif(bpf.JumpEqual, 0x8035, t, f) // RARP
		}
		body := func(t, f label) {
			c.dirs(n.dir, t, f, func(which string, t, f label) {
				off := c.link.netOff + 14 // sender protocol address
				if which == "dst" {
					off = c.link.netOff + 24 // target protocol address
				}
				c.addrIs(off, n.net, t, f)
			})
		}
		alts = append(alts, alt{check, body})
	}
	for i, a := range alts {
		next := f
		if i+1 < len(alts) {
			next = c.newLabel()
		}
		body := c.newLabel()
		a.check(body, next)
		c.mark(body)
		a.body(t, next)
		if next != f {
			c.mark(next)
		}
	}
}

// primIP compiles n for a packet known to be IP version v.
func (c *filterCompiler) primIP(n primNode, v int, t, f label) {
	nh := c.link.netOff
	if protos := n.transports(); protos != nil {
		protoOff := nh + 9
		if v == 6 {
			protoOff = nh + 6
		}
		ok := c.newLabel()
		c.ldb(protoOff)
		for i, p := range protos {
			if i+1 < len(protos) {
				miss := c.newLabel()
				c.jif(bpf.JumpEqual, p, ok, miss)
				c.mark(miss)
			} else {
				c.jif(bpf.JumpEqual, p, ok, f)
			}
		}
		c.mark(ok)
	}
	switch n.kind {
	case "":
		c.jump(t)
	case "host", "net":
		src, dst := nh+12, nh+16
		if v == 6 {
			src, dst = nh+8, nh+24
		}
		c.dirs(n.dir, t, f, func(which string, t, f label) {
			off := src
			if which == "dst" {
				off = dst
			}
			c.addrIs(off, n.net, t, f)
		})
	case "port", "portrange":
		if v == 4 {
			// Only the first fragment holds the ports.
			c.ldh(nh + 6)
			first := c.newLabel()
			c.jif(bpf.JumpBitsSet, 0x1fff, f, first)
			c.mark(first)
		}
		c.dirs(n.dir, t, f, func(which string, t, f label) {
			var off uint32
			if which == "dst" {
				off = 2
			}
			if v == 4 {
				c.emit(bpf.LoadMemShift{Off: nh})
				c.emit(bpf.LoadIndirect{Off: nh + off, Size: 2})
			} else {
				c.ldh(nh + 40 + off)
			}
			if n.lo == n.hi {
				c.jif(bpf.JumpEqual, uint32(n.lo), t, f)
				return
			}
			ge := c.newLabel()
			c.jif(bpf.JumpGreaterOrEqual, uint32(n.lo), ge, f)
			c.mark(ge)
			c.jif(bpf.JumpGreaterThan, uint32(n.hi), f, t)
		})
	}
}

// dirs combines a test of the source and of the destination as dir says.
func (c *filterCompiler) dirs(dir string, t, f label, test func(which string, t, f label)) {
	switch dir {
	case "src", "dst":
		test(dir, t, f)
	case "and":
		mid := c.newLabel()
		test("src", mid, f)
		c.mark(mid)
		test("dst", t, f)
	default:
		mid := c.newLabel()
		test("src", t, mid)
		c.mark(mid)
		test("dst", t, f)
	}
}

// addrIs tests the address at off against the prefix p.
func (c *filterCompiler) addrIs(off uint32, p netip.Prefix, t, f label) {
	a := p.Addr().AsSlice()
	bits := p.Bits()
	for w := 0; w*32 < bits; w++ {
		word := uint32(a[4*w])<<24 | uint32(a[4*w+1])<<16 | uint32(a[4*w+2])<<8 | uint32(a[4*w+3])
		c.ld(off + uint32(4*w))
		if rest := bits - 32*w; rest < 32 {
			mask := ^uint32(0) << (32 - rest)
			c.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
			word &= mask
		}
		if (w+1)*32 >= bits {
			c.jif(bpf.JumpEqual, word, t, f)
			return
		}
		next := c.newLabel()
		c.jif(bpf.JumpEqual, word, next, f)
		c.mark(next)
	}
	c.jump(t) // a /0 prefix
}
