package gen

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"

	"golang.org/x/crypto/cryptobyte"
)

// A connection with ConnOptions.TLS carries its byte streams in TLS 1.3
// records (TLS_AES_128_GCM_SHA256, RFC 8446), as wss:// does: after the TCP
// handshake come a ClientHello, the server's ServerHello, ChangeCipherSpec
// and encrypted EncryptedExtensions and Finished, the client's
// ChangeCipherSpec and encrypted Finished; then every write is sealed in
// application data records of at most 16 KiB. The four traffic secrets
// are drawn from the seed and written to Options.KeyLog as NSS key log
// lines, so the capture and its key log are byte-identical for a seed.
//
// The records are built here rather than by crypto/tls, whose key
// exchange and signatures cannot be seeded outside tests: the hellos are
// well-formed (with a random X25519 key share) but there is no real key
// exchange, certificate or transcript, and the Finished messages'
// verify_data is random. An analyzer that decrypts from a key log (as
// wireshark and wscap do) does not see the difference; one that checks
// the handshake would. Real stacks are what dissect/tls's tests use.

// tlsState is a connection's TLS layer.
type tlsState struct {
	clientRandom [32]byte
	keys         [2]*recordSealer // application keys per direction
}

// recordSealer seals records with one direction's keys (RFC 8446 §5.2).
type recordSealer struct {
	aead cipher.AEAD
	iv   []byte
	seq  uint64
	buf  []byte
}

// hkdfLabel is HKDF-Expand-Label with SHA-256 (RFC 8446 §7.1).
func hkdfLabel(secret []byte, label string, n int) []byte {
	var b cryptobyte.Builder
	b.AddUint16(uint16(n))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte("tls13 " + label)) })
	b.AddUint8LengthPrefixed(func(*cryptobyte.Builder) {})
	out, err := hkdf.Expand(sha256.New, secret, string(b.BytesOrPanic()), n)
	if err != nil {
		panic(err)
	}
	return out
}

func newSealer(secret []byte) *recordSealer {
	blk, err := aes.NewCipher(hkdfLabel(secret, "key", 16))
	if err != nil {
		panic(err)
	}
	a, err := cipher.NewGCM(blk)
	if err != nil {
		panic(err)
	}
	return &recordSealer{aead: a, iv: hkdfLabel(secret, "iv", 12)}
}

// seal appends to dst the records that carry b as content type typ.
func (r *recordSealer) seal(dst []byte, typ byte, b []byte) []byte {
	for first := true; len(b) > 0 || first; first = false {
		n := min(len(b), 1<<14)
		var nonce [12]byte
		copy(nonce[:], r.iv)
		for i := range 8 {
			nonce[11-i] ^= byte(r.seq >> (8 * i))
		}
		r.seq++
		r.buf = append(append(r.buf[:0], b[:n]...), typ)
		length := len(r.buf) + r.aead.Overhead()
		hdr := []byte{23, 3, 3, byte(length >> 8), byte(length)}
		dst = append(dst, hdr...)
		dst = r.aead.Seal(dst, nonce[:], r.buf, hdr)
		b = b[n:]
	}
	return dst
}

// randomBytes returns n bytes from rng.
func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// tlsHandshake emits the TLS 1.3 handshake flights after the TCP handshake
// and sets up the application keys; the key log gets the connection's
// secrets.
func (s *connState) tlsHandshake(keylog io.Writer, sni string) error {
	t := &tlsState{}
	copy(t.clientRandom[:], randomBytes(s.rng, 32))
	serverRandom := randomBytes(s.rng, 32)
	session := randomBytes(s.rng, 32)
	secrets := [4][]byte{} // client/server handshake, client/server traffic
	for i := range secrets {
		secrets[i] = randomBytes(s.rng, 32)
	}
	if keylog != nil {
		cr := hex.EncodeToString(t.clientRandom[:])
		for i, label := range []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} {
			if _, err := fmt.Fprintf(keylog, "%s %s %x\n", label, cr, secrets[i]); err != nil {
				return fmt.Errorf("gen: writing the key log: %w", err)
			}
		}
	}
	handshake := func(typ byte, body []byte) []byte {
		return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	}
	plainRecord := func(typ byte, b []byte) []byte {
		return append([]byte{typ, 3, 1, byte(len(b) >> 8), byte(len(b))}, b...)
	}
	ccs := []byte{20, 3, 3, 0, 1, 1}

	var ch cryptobyte.Builder
	ch.AddUint16(0x0303)
	ch.AddBytes(t.clientRandom[:])
	ch.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(session) })
	ch.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x1301) })
	ch.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
	ch.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		if sni != "" {
			b.AddUint16(0) // server_name
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
					b.AddUint8(0)
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(sni)) })
				})
			})
		}
		b.AddUint16(16) // ALPN: http/1.1
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte("http/1.1")) })
			})
		})
		b.AddUint16(10) // supported_groups: x25519
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x001d) })
		})
		b.AddUint16(13) // signature_algorithms: ecdsa_secp256r1_sha256
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x0403) })
		})
		b.AddUint16(43) // supported_versions: TLS 1.3
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x0304) })
		})
		b.AddUint16(51) // key_share: x25519
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint16(0x001d)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(randomBytes(s.rng, 32)) })
			})
		})
	})
	var sh cryptobyte.Builder
	sh.AddUint16(0x0303)
	sh.AddBytes(serverRandom)
	sh.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(session) })
	sh.AddUint16(0x1301)
	sh.AddUint8(0)
	sh.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(43)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x0304) })
		b.AddUint16(51)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16(0x001d)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(randomBytes(s.rng, 32)) })
		})
	})
	// EncryptedExtensions: ALPN http/1.1.
	var ee cryptobyte.Builder
	ee.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(16)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte("http/1.1")) })
			})
		})
	})

	client := plainRecord(22, handshake(1, ch.BytesOrPanic()))
	serverHS := append(handshake(8, ee.BytesOrPanic()), handshake(20, randomBytes(s.rng, 32))...)
	server := append(plainRecord(22, handshake(2, sh.BytesOrPanic())), ccs...)
	server = newSealer(secrets[1]).seal(server, 22, serverHS)
	finished := append(ccs, newSealer(secrets[0]).seal(nil, 22, handshake(20, randomBytes(s.rng, 32)))...)

	s.write(FromClient, client, false)
	s.now += s.rtt
	s.write(FromServer, server, false)
	s.now += s.rtt / 2
	s.write(FromClient, finished, false)
	t.keys = [2]*recordSealer{newSealer(secrets[2]), newSealer(secrets[3])}
	s.tls = t
	return nil
}

// sealTLS returns b carried in application data records of direction d.
func (s *connState) sealTLS(d Direction, b []byte) []byte {
	return s.tls.keys[d].seal(nil, 23, b)
}
