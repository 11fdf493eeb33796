// Package tls reads what a TLS connection shows without its keys: the
// record layer (RFC 8446 §5.1, RFC 5246 §6.2) and the ClientHello and
// ServerHello (RFC 8446 §4.1.2, §4.1.3), which name the server (SNI, RFC
// 6066 §3), the application protocols offered (ALPN, RFC 7301), and the
// version and cipher suite chosen.
package tls

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/crypto/cryptobyte"
)

// ContentType is a TLS record's content type (RFC 8446 §5.1).
type ContentType uint8

// The content types of TLS 1.0 to 1.3, and heartbeat (RFC 6520).
const (
	ChangeCipherSpec ContentType = 20
	Alert            ContentType = 21
	Handshake        ContentType = 22
	ApplicationData  ContentType = 23
	Heartbeat        ContentType = 24
)

// RecordHeaderLen is the length of a record header.
const RecordHeaderLen = 5

// MaxRecordLen is the longest record payload any version allows: 2^14
// bytes plus 2,048 of expansion (RFC 5246 §6.2.3; TLS 1.3 allows 256).
const MaxRecordLen = 1<<14 + 2048

// RecordHeader is the fixed part of a TLS record (RFC 8446 §5.1).
type RecordHeader struct {
	Type    ContentType
	Version uint16 // legacy_record_version
	Length  int
}

// ErrShort means the input ends before what is being parsed does.
var ErrShort = errors.New("tls: input ends early")

// ParseRecordHeader reads a record header from the start of b.
func ParseRecordHeader(b []byte) (RecordHeader, error) {
	if len(b) < RecordHeaderLen {
		return RecordHeader{}, ErrShort
	}
	return RecordHeader{Type: ContentType(b[0]), Version: uint16(b[1])<<8 | uint16(b[2]), Length: int(b[3])<<8 | int(b[4])}, nil
}

// Plausible reports whether h could start a record of SSL 3.0 to TLS 1.3:
// a defined content type, a version 3.x and a length within the limit.
func (h RecordHeader) Plausible() bool {
	return h.Type >= ChangeCipherSpec && h.Type <= Heartbeat && h.Version>>8 == 3 && h.Version&0xff <= 4 && h.Length <= MaxRecordLen
}

// StartsHello reports whether b (the first bytes a peer sent) starts like
// a TLS connection: a handshake record of a plausible version whose first
// message is a ClientHello (from a client) or a ServerHello (from a
// server). b may stop anywhere after the first byte.
func StartsHello(b []byte) bool {
	if len(b) < 1 || b[0] != byte(Handshake) {
		return false
	}
	if len(b) >= 3 && (b[1] != 3 || b[2] > 4) {
		return false
	}
	if len(b) >= RecordHeaderLen {
		h, _ := ParseRecordHeader(b)
		if !h.Plausible() || h.Length < 4 {
			return false
		}
	}
	if len(b) > RecordHeaderLen {
		t := b[RecordHeaderLen]
		return t == typeClientHello || t == typeServerHello
	}
	return true
}

// RecordChain reports whether b, from its start or from a later offset,
// holds plausible record headers that chain, each length pointing at the
// next header, to exactly the end of b: at least two headers, or one from
// the start of b. Only the first chainMax offsets are tried. It tells a
// stream picked up mid-connection that carries TLS.
func RecordChain(b []byte) bool {
	const chainMax = 64
	for start := 0; start < len(b) && start < chainMax; start++ {
		i, n := start, 0
		for i < len(b) {
			h, err := ParseRecordHeader(b[i:])
			if err != nil || !h.Plausible() {
				break
			}
			i += RecordHeaderLen + h.Length
			n++
		}
		if i == len(b) && (n >= 2 || start == 0 && n >= 1) {
			return true
		}
	}
	return false
}

const (
	typeClientHello = 1
	typeServerHello = 2

	extServerName        = 0
	extALPN              = 16
	extEncryptThenMAC    = 22
	extSessionTicket     = 35
	extEarlyData         = 42
	extSupportedVersions = 43
)

// Hello is what the hellos of one connection said in clear text.
type Hello struct {
	ServerName string   // SNI host_name, "" when none
	ALPN       []string // protocols the client offered
	// Versions are the versions the client offered in
	// supported_versions; without it, its legacy_version alone.
	Versions []uint16
	// Version and CipherSuite are the server's choice (0 until its
	// ServerHello was read). ALPNChosen is the protocol it chose when
	// visible: TLS 1.2 sends it in the ServerHello, TLS 1.3 encrypts it.
	Version     uint16
	CipherSuite uint16
	ALPNChosen  string
	// EncryptThenMAC says that the server took encrypt_then_mac (RFC
	// 7366): CBC records carry their MAC after the ciphertext.
	EncryptThenMAC bool
	// EarlyData says that the client offered 0-RTT data (RFC 8446 §4.2.10).
	EarlyData bool
	// Ticket is the session ticket the client offered (RFC 5077 §3.2),
	// nil when none; borrowed from the ClientHello's bytes.
	Ticket []byte
}

// VersionName returns "TLS 1.3" and the like, or "0x0305" for others.
func VersionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSL 3.0"
	case 0x0301:
		return "TLS 1.0"
	case 0x0302:
		return "TLS 1.1"
	case 0x0303:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// CipherSuiteName returns the IANA name of a cipher suite, or "0x1301"
// style for those crypto/tls does not know.
func CipherSuiteName(id uint16) string {
	if name, ok := suiteNames()[id]; ok {
		return name
	}
	return tls.CipherSuiteName(id)
}

// suiteNames are the names of the suites crypto/tls knows, looked up once:
// tls.CipherSuiteName builds its lists at every call, and every TLS
// connection asks.
var suiteNames = sync.OnceValue(func() map[uint16]string {
	m := map[uint16]string{}
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, c := range list {
			m[c.ID] = c.Name
		}
	}
	return m
})

// ParseClientHello reads a ClientHello message body (after the 4-byte
// handshake header) into h.
func ParseClientHello(body []byte, h *Hello) error {
	s := cryptobyte.String(body)
	var legacy uint16
	var random, session, suites, compression, exts cryptobyte.String
	if !s.ReadUint16(&legacy) || !s.ReadBytes((*[]byte)(&random), 32) ||
		!s.ReadUint8LengthPrefixed(&session) || !s.ReadUint16LengthPrefixed(&suites) ||
		!s.ReadUint8LengthPrefixed(&compression) {
		return errors.New("tls: malformed ClientHello")
	}
	h.Versions = []uint16{legacy}
	if s.Empty() {
		return nil // no extensions (SSL 3.0 style)
	}
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return errors.New("tls: malformed ClientHello extensions")
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return errors.New("tls: malformed ClientHello extension")
		}
		switch typ {
		case extEarlyData:
			h.EarlyData = true
		case extSessionTicket:
			if len(data) > 0 {
				h.Ticket = data
			}
		case extServerName:
			var list cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&list) {
				return errors.New("tls: malformed server_name")
			}
			for !list.Empty() {
				var kind uint8
				var name cryptobyte.String
				if !list.ReadUint8(&kind) || !list.ReadUint16LengthPrefixed(&name) {
					return errors.New("tls: malformed server_name")
				}
				if kind == 0 && h.ServerName == "" {
					h.ServerName = string(name)
				}
			}
		case extALPN:
			h.ALPN = readALPN(data)
		case extSupportedVersions:
			var list cryptobyte.String
			if !data.ReadUint8LengthPrefixed(&list) {
				return errors.New("tls: malformed supported_versions")
			}
			var vs []uint16
			for !list.Empty() {
				var v uint16
				if !list.ReadUint16(&v) {
					return errors.New("tls: malformed supported_versions")
				}
				if v&0x0f0f != 0x0a0a { // GREASE (RFC 8701) is not a version
					vs = append(vs, v)
				}
			}
			if len(vs) > 0 {
				h.Versions = vs
			}
		}
	}
	return nil
}

// ParseServerHello reads a ServerHello message body into h.
func ParseServerHello(body []byte, h *Hello) error {
	s := cryptobyte.String(body)
	var legacy uint16
	var random, session, exts cryptobyte.String
	var compression uint8
	if !s.ReadUint16(&legacy) || !s.ReadBytes((*[]byte)(&random), 32) ||
		!s.ReadUint8LengthPrefixed(&session) || !s.ReadUint16(&h.CipherSuite) || !s.ReadUint8(&compression) {
		return errors.New("tls: malformed ServerHello")
	}
	h.Version = legacy
	if s.Empty() {
		return nil
	}
	if !s.ReadUint16LengthPrefixed(&exts) || !s.Empty() {
		return errors.New("tls: malformed ServerHello extensions")
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return errors.New("tls: malformed ServerHello extension")
		}
		switch typ {
		case extSupportedVersions:
			var v uint16
			if data.ReadUint16(&v) {
				h.Version = v
			}
		case extALPN:
			if p := readALPN(data); len(p) > 0 {
				h.ALPNChosen = p[0]
			}
		case extEncryptThenMAC:
			h.EncryptThenMAC = true
		}
	}
	return nil
}

func readALPN(data cryptobyte.String) []string {
	var list cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) {
		return nil
	}
	var out []string
	for !list.Empty() {
		var p cryptobyte.String
		if !list.ReadUint8LengthPrefixed(&p) {
			return out
		}
		out = append(out, string(p))
	}
	return out
}

// MaxHello caps the handshake bytes a Session holds per direction (a
// post-quantum ClientHello is about 1,800 bytes; certificates are not
// needed).
const MaxHello = 64 << 10
