package tls

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// suite is what decrypting a cipher suite's records takes.
type suite struct {
	id     uint16
	tls13  bool
	keyLen int
	// ivLen is the fixed IV: the whole nonce for TLS 1.3 and ChaCha20,
	// the 4-byte salt of TLS 1.2 AES-GCM (RFC 5288 §3).
	ivLen int
	// explicit is the per-record nonce carried in TLS 1.2 AES-GCM records.
	explicit int
	chacha   bool
	hash     func() hash.Hash // the PRF's (TLS 1.2) or HKDF's (TLS 1.3)
	// cbc suites (TLS 1.2 AES-CBC, RFC 5246 §6.2.3.2) carry a random IV
	// per record and authenticate with HMAC-mac, macLen bytes, of the
	// plaintext (or of the ciphertext, with encrypt_then_mac, RFC 7366).
	cbc    bool
	mac    func() hash.Hash
	macLen int
}

// suites are the AEAD suites wscap decrypts (RFC 8446 §B.4; RFC 5288,
// RFC 5289 and RFC 7905 for TLS 1.2).
var suites = map[uint16]*suite{
	0x1301: {id: 0x1301, tls13: true, keyLen: 16, ivLen: 12, hash: sha256.New},
	0x1302: {id: 0x1302, tls13: true, keyLen: 32, ivLen: 12, hash: sha512.New384},
	0x1303: {id: 0x1303, tls13: true, keyLen: 32, ivLen: 12, chacha: true, hash: sha256.New},

	0x009c: {id: 0x009c, keyLen: 16, ivLen: 4, explicit: 8, hash: sha256.New}, // RSA_WITH_AES_128_GCM_SHA256
	0x009d: {id: 0x009d, keyLen: 32, ivLen: 4, explicit: 8, hash: sha512.New384},
	0x009e: {id: 0x009e, keyLen: 16, ivLen: 4, explicit: 8, hash: sha256.New}, // DHE_RSA
	0x009f: {id: 0x009f, keyLen: 32, ivLen: 4, explicit: 8, hash: sha512.New384},
	0xc02b: {id: 0xc02b, keyLen: 16, ivLen: 4, explicit: 8, hash: sha256.New}, // ECDHE_ECDSA
	0xc02c: {id: 0xc02c, keyLen: 32, ivLen: 4, explicit: 8, hash: sha512.New384},
	0xc02f: {id: 0xc02f, keyLen: 16, ivLen: 4, explicit: 8, hash: sha256.New}, // ECDHE_RSA
	0xc030: {id: 0xc030, keyLen: 32, ivLen: 4, explicit: 8, hash: sha512.New384},
	0xcca8: {id: 0xcca8, keyLen: 32, ivLen: 12, chacha: true, hash: sha256.New}, // ECDHE_RSA_WITH_CHACHA20_POLY1305
	0xcca9: {id: 0xcca9, keyLen: 32, ivLen: 12, chacha: true, hash: sha256.New}, // ECDHE_ECDSA
	0xccaa: {id: 0xccaa, keyLen: 32, ivLen: 12, chacha: true, hash: sha256.New}, // DHE_RSA

	// AES-CBC with HMAC-SHA1, -SHA256 and -SHA384 (RFC 5246 §A.5, RFC
	// 4492, RFC 5289): RSA, DHE_RSA, ECDHE_ECDSA, ECDHE_RSA.
	0x002f: cbcSuite(0x002f, 16, sha1.New, sha256.New),
	0x0035: cbcSuite(0x0035, 32, sha1.New, sha256.New),
	0x003c: cbcSuite(0x003c, 16, sha256.New, sha256.New),
	0x003d: cbcSuite(0x003d, 32, sha256.New, sha256.New),
	0x0033: cbcSuite(0x0033, 16, sha1.New, sha256.New),
	0x0039: cbcSuite(0x0039, 32, sha1.New, sha256.New),
	0x0067: cbcSuite(0x0067, 16, sha256.New, sha256.New),
	0x006b: cbcSuite(0x006b, 32, sha256.New, sha256.New),
	0xc009: cbcSuite(0xc009, 16, sha1.New, sha256.New),
	0xc00a: cbcSuite(0xc00a, 32, sha1.New, sha256.New),
	0xc013: cbcSuite(0xc013, 16, sha1.New, sha256.New),
	0xc014: cbcSuite(0xc014, 32, sha1.New, sha256.New),
	0xc023: cbcSuite(0xc023, 16, sha256.New, sha256.New),
	0xc024: cbcSuite(0xc024, 32, sha512.New384, sha512.New384),
	0xc027: cbcSuite(0xc027, 16, sha256.New, sha256.New),
	0xc028: cbcSuite(0xc028, 32, sha512.New384, sha512.New384),
}

func cbcSuite(id uint16, keyLen int, mac, prf func() hash.Hash) *suite {
	return &suite{id: id, keyLen: keyLen, cbc: true, mac: mac, macLen: mac().Size(), hash: prf}
}

// keys decrypt the records of one direction and epoch.
type keys struct {
	aead cipher.AEAD
	iv   []byte
	seq  uint64
	// secret is the TLS 1.3 traffic secret the keys come from (for
	// KeyUpdate).
	secret []byte
	// block and hmac are a CBC suite's cipher and MAC (keyed).
	block cipher.Block
	hmac  hash.Hash
}

func (s *suite) newKeys(key, iv []byte) (*keys, error) {
	var a cipher.AEAD
	var err error
	if s.chacha {
		a, err = chacha20poly1305.New(key)
	} else {
		var b cipher.Block
		if b, err = aes.NewCipher(key); err == nil {
			a, err = cipher.NewGCM(b)
		}
	}
	if err != nil {
		return nil, err
	}
	return &keys{aead: a, iv: iv}, nil
}

// nonce writes the nonce of record seq into dst: the IV XOR the sequence
// number (TLS 1.3, RFC 8446 §5.3; ChaCha20 in TLS 1.2, RFC 7905 §2), or the
// salt and the record's explicit part (TLS 1.2 AES-GCM, RFC 5288 §3).
func (k *keys) nonce(dst []byte, s *suite, explicit []byte) []byte {
	dst = append(dst[:0], k.iv...)
	if s.explicit > 0 {
		return append(dst, explicit...)
	}
	for i := 0; i < 8; i++ {
		dst[len(dst)-1-i] ^= byte(k.seq >> (8 * i))
	}
	return dst
}

// hkdfExpandLabel is HKDF-Expand-Label (RFC 8446 §7.1).
func hkdfExpandLabel(h func() hash.Hash, secret []byte, label string, context []byte, n int) []byte {
	info := make([]byte, 0, 4+6+len(label)+len(context))
	info = binary.BigEndian.AppendUint16(info, uint16(n))
	info = append(info, byte(6+len(label)))
	info = append(info, "tls13 "...)
	info = append(info, label...)
	info = append(info, byte(len(context)))
	info = append(info, context...)
	out, err := hkdf.Expand(h, secret, string(info), n)
	if err != nil {
		panic(err) // n is at most 32: never too long for the hash
	}
	return out
}

// keys13 derives the record keys of a TLS 1.3 traffic secret (RFC 8446
// §7.3).
func (s *suite) keys13(secret []byte) (*keys, error) {
	k, err := s.newKeys(hkdfExpandLabel(s.hash, secret, "key", nil, s.keyLen), hkdfExpandLabel(s.hash, secret, "iv", nil, s.ivLen))
	if err != nil {
		return nil, err
	}
	k.secret = secret
	return k, nil
}

// nextSecret is the traffic secret after a KeyUpdate (RFC 8446 §7.2).
func (s *suite) nextSecret(secret []byte) []byte {
	return hkdfExpandLabel(s.hash, secret, "traffic upd", nil, s.hash().Size())
}

// prf12 is the TLS 1.2 PRF, P_hash with the suite's hash (RFC 5246 §5).
func prf12(h func() hash.Hash, secret []byte, label string, seed []byte, n int) []byte {
	ls := append([]byte(label), seed...)
	out := make([]byte, 0, n+64)
	mac := hmac.New(h, secret)
	mac.Write(ls)
	a := mac.Sum(nil) // A(1)
	for len(out) < n {
		mac.Reset()
		mac.Write(a)
		mac.Write(ls)
		out = mac.Sum(out)
		mac.Reset()
		mac.Write(a)
		a = mac.Sum(a[:0])
	}
	return out[:n]
}

// keys12 derives both directions' record keys from a TLS 1.2 master
// secret (RFC 5246 §6.3): the key block is client key, server key, client
// IV, server IV (AEAD suites have no MAC keys); CBC suites start it with
// the client's and the server's MAC keys, and take no IV from it.
func (s *suite) keys12(master, clientRandom, serverRandom []byte) (client, server *keys, err error) {
	seed := append(append([]byte{}, serverRandom...), clientRandom...)
	if s.cbc {
		kb := prf12(s.hash, master, "key expansion", seed, 2*s.macLen+2*s.keyLen)
		m, k := kb[:2*s.macLen], kb[2*s.macLen:]
		newCBC := func(mac, key []byte) (*keys, error) {
			b, err := aes.NewCipher(key)
			if err != nil {
				return nil, err
			}
			return &keys{block: b, hmac: hmac.New(s.mac, mac)}, nil
		}
		if client, err = newCBC(m[:s.macLen], k[:s.keyLen]); err != nil {
			return nil, nil, err
		}
		server, err = newCBC(m[s.macLen:], k[s.keyLen:])
		return client, server, err
	}
	kb := prf12(s.hash, master, "key expansion", seed, 2*s.keyLen+2*s.ivLen)
	ck, sk := kb[:s.keyLen], kb[s.keyLen:2*s.keyLen]
	civ, siv := kb[2*s.keyLen:2*s.keyLen+s.ivLen], kb[2*s.keyLen+s.ivLen:]
	if client, err = s.newKeys(ck, civ); err != nil {
		return nil, nil, err
	}
	server, err = s.newKeys(sk, siv)
	return client, server, err
}
