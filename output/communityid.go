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
	ia, ib := a.Addr().Unmap().AsSlice(), b.Addr().Unmap().AsSlice()
	pa, pb := a.Port(), b.Port()
	// The smaller endpoint goes first.
	if c := bytes.Compare(ia, ib); c > 0 || c == 0 && pa > pb {
		ia, ib, pa, pb = ib, ia, pb, pa
	}
	h := sha1.New()
	var buf [2 + 16 + 16 + 2 + 4]byte
	x := binary.BigEndian.AppendUint16(buf[:0], 0) // seed
	x = append(x, ia...)
	x = append(x, ib...)
	x = append(x, 6, 0) // TCP, padding
	x = binary.BigEndian.AppendUint16(x, pa)
	x = binary.BigEndian.AppendUint16(x, pb)
	h.Write(x)
	return "1:" + base64.StdEncoding.EncodeToString(h.Sum(nil))
}
