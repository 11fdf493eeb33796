package gen

import (
	"encoding/binary"
	"slices"
)

// IPTransform rewrites the IP packet of one segment after it is built: ip
// is the serialised IPv4 or IPv6 packet (IP header, TCP header, payload)
// without the link-layer header, owned by the callee. The packets returned
// are written in order, each with the connection's link-layer header, at
// the segment's time (IP fragmentation, mangled headers). The manifest
// counts every packet written.
type IPTransform func(info ConnInfo, seg *Segment, ip []byte) [][]byte

// FragmentIP cuts the IP packet of every segment that match accepts (nil:
// every segment with a payload) into fragments carrying at most size bytes
// of the IP payload each (rounded down to a multiple of 8, at least 8):
// IPv4 fragments with offsets and the MF flag (RFC 791 §3.2), IPv6
// fragments with a Fragment header (RFC 8200 §4.5). Packets that fit are
// left whole.
func FragmentIP(size int, match func(seg *Segment) bool) IPTransform {
	return func(info ConnInfo, seg *Segment, ip []byte) [][]byte {
		if (match == nil && len(seg.Payload) == 0) || (match != nil && !match(seg)) {
			return [][]byte{ip}
		}
		if len(ip) > 0 && ip[0]>>4 == 6 {
			return FragmentIPv6(ip, size, uint32(info.ID)<<20^seg.Seq)
		}
		return FragmentIPv4(ip, size)
	}
}

// ReverseFragments writes the packets t returns in reverse order: the last
// fragment first.
func ReverseFragments(t IPTransform) IPTransform {
	return func(info ConnInfo, seg *Segment, ip []byte) [][]byte {
		pkts := t(info, seg, ip)
		slices.Reverse(pkts)
		return pkts
	}
}

// FragmentIPv4 cuts an IPv4 packet into fragments of at most size payload
// bytes (a multiple of 8), keeping its Id; the DF flag is cleared and each
// header checksum recomputed. A packet that fits is returned whole.
func FragmentIPv4(pkt []byte, size int) [][]byte {
	ihl := int(pkt[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(pkt[2:4]))
	payload := pkt[ihl:min(total, len(pkt))]
	size = max(8, size&^7)
	if len(payload) <= size {
		return [][]byte{pkt}
	}
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		n := min(size, len(payload)-off)
		f := make([]byte, ihl+n)
		copy(f, pkt[:ihl])
		copy(f[ihl:], payload[off:off+n])
		binary.BigEndian.PutUint16(f[2:4], uint16(ihl+n))
		fo := uint16(off / 8)
		if off+n < len(payload) {
			fo |= 0x2000 // MF
		}
		binary.BigEndian.PutUint16(f[6:8], fo)
		binary.BigEndian.PutUint16(f[10:12], 0)
		binary.BigEndian.PutUint16(f[10:12], ipChecksum(f[:ihl]))
		out = append(out, f)
	}
	return out
}

// FragmentIPv6 cuts an IPv6 packet without extension headers into
// fragments of at most size payload bytes (a multiple of 8), each with a
// Fragment header of identification id. A packet that fits is returned
// whole.
func FragmentIPv6(pkt []byte, size int, id uint32) [][]byte {
	next := pkt[6]
	payload := pkt[40:min(40+int(binary.BigEndian.Uint16(pkt[4:6])), len(pkt))]
	size = max(8, size&^7)
	if len(payload) <= size {
		return [][]byte{pkt}
	}
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		n := min(size, len(payload)-off)
		f := make([]byte, 48+n)
		copy(f, pkt[:40])
		f[6] = 44 // Fragment
		binary.BigEndian.PutUint16(f[4:6], uint16(8+n))
		f[40] = next
		fo := uint16(off/8) << 3
		if off+n < len(payload) {
			fo |= 1 // M
		}
		binary.BigEndian.PutUint16(f[42:44], fo)
		binary.BigEndian.PutUint32(f[44:48], id)
		copy(f[48:], payload[off:off+n])
		out = append(out, f)
	}
	return out
}

// ipChecksum is the IPv4 header checksum (RFC 791 §3.1).
func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
