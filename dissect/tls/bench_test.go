package tls

import (
	"bytes"
	"crypto/tls"
	"strings"
	"testing"
)

// nullHandler drops what a Session hands up.
type nullHandler struct{}

func (nullHandler) AppData(bool, []byte)          {}
func (nullHandler) Lost(bool, int64)              {}
func (nullHandler) Problem(bool, Problem, string) {}

// BenchmarkSession measures a whole session, from the hellos to the last
// record, decrypted from what real crypto/tls peers sent (bytes/s of the
// TLS stream, allocations per session): mostly the records of a 64-message
// exchange, in 1,448-byte segments.
func BenchmarkSession(b *testing.B) {
	ec := cert(b, false)
	msgs := make([]string, 64)
	for i := range msgs {
		msgs[i] = strings.Repeat("m", 100+i*37)
	}
	for _, bc := range []struct {
		name  string
		max   uint16
		suite uint16
	}{
		{"TLS1.3-AES128GCM", tls.VersionTLS13, 0},
		{"TLS1.2-AES128GCM", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		{"TLS1.2-CHACHA20", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
		{"TLS1.2-AES128CBC-SHA", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := &tls.Config{Certificates: []tls.Certificate{ec}, MaxVersion: bc.max}
			cli := &tls.Config{InsecureSkipVerify: true, ServerName: "chat.example.com", MaxVersion: bc.max}
			if bc.suite != 0 {
				srv.CipherSuites, cli.CipherSuites = []uint16{bc.suite}, []uint16{bc.suite}
			}
			var kl bytes.Buffer
			segs := session(b, cli, srv, &kl, msgs)
			keys := NewKeyLog()
			keys.Read(&kl)
			var n int64
			for _, sg := range segs {
				n += int64(len(sg.b))
			}
			b.SetBytes(n)
			b.ReportAllocs()
			var sc Scratch
			for b.Loop() {
				s := NewSession(keys, nullHandler{})
				s.Scratch = &sc
				feed(s, segs, 1448)
				if !s.Decrypting {
					b.Fatal("not decrypted")
				}
			}
		})
	}
}
