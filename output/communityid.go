package output

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
)

// CommunityID returns the Community ID (version 1, seed 0) of a TCP
// connection: the flow hash Zeek, Suricata and Arkime write, so that
// wscap's records join with theirs (github.com/corelight/community-id-spec).
func CommunityID(a, b netip.AddrPort) string {
	sum := CommunityHash(a.Addr(), b.Addr(), a.Port(), b.Port(), 6)
	return "1:" + base64.StdEncoding.EncodeToString(sum[:])
}

// CommunityHash is the SHA-1 digest the Community ID (version 1, seed 0)
// encodes, of a flow of IP protocol proto: the smaller endpoint first, so
// that both directions hash alike, and the same on every machine. proto 0
// with ports 0 hashes an address pair.
func CommunityHash(a, b netip.Addr, pa, pb uint16, proto uint8) [sha1.Size]byte {
	ia, ib := a.Unmap().AsSlice(), b.Unmap().AsSlice()
	if c := bytes.Compare(ia, ib); c > 0 || c == 0 && pa > pb {
		ia, ib, pa, pb = ib, ia, pb, pa
	}
	var buf [2 + 16 + 16 + 2 + 4]byte
	x := binary.BigEndian.AppendUint16(buf[:0], 0) // seed
	x = append(x, ia...)
	x = append(x, ib...)
	x = append(x, proto, 0) // protocol, padding
	x = binary.BigEndian.AppendUint16(x, pa)
	x = binary.BigEndian.AppendUint16(x, pb)
	return sha1.Sum(x)
}
