package tls

import (
	"bytes"
	"fmt"
	"slices"
)

// A capture that starts after the TLS handshake has no ClientHello whose
// random finds the connection's secrets. For TLS 1.3 the key log's traffic
// secrets are enough to try (RFC 8446 §7.1, §7.3): each secret, with the
// suites its length allows, at the record numbers the first records may
// have (0-1023, fewer with a long key log), until one opens the first record of a direction. Its client random
// then gives the other direction's secret. TLS 1.2 records are keyed from
// the master secret and both randoms, which the capture does not have.

// maxMidstreamTrials bounds the record openings tried on a direction's
// first record (each takes a few µs); the record numbers tried shrink as
// the key log grows, down to 16.
const maxMidstreamTrials = 1 << 16

// maxMidstreamSeq is the highest number of records a direction may have
// sent before the capture started that is tried.
const maxMidstreamSeq = 1024

// MaxMidstreamTrials bounds the record openings tried, over all the
// sessions that share one Trials counter, on captures that start after the
// handshake: a capture of many such connections and a long key log would
// otherwise cost up to maxMidstreamTrials each.
const MaxMidstreamTrials = 1 << 21

// StartMidstream makes s a session whose handshake was not captured: its
// first application data records are tried with the key log's TLS 1.3
// traffic secrets, counted in *trials (nil: not bounded).
func (s *Session) StartMidstream(trials *int64) { s.midstream, s.trials = true, trials }

// traffic13 returns the secrets that have TLS 1.3 traffic secrets, in the
// order of their client randoms (kept until a line is added).
func (k *KeyLog) traffic13() []*Secrets {
	if k == nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.t13 == nil {
		out := []*Secrets{}
		for _, sec := range k.secrets {
			if sec.ClientTraffic != nil || sec.ServerTraffic != nil {
				out = append(out, sec)
			}
		}
		slices.SortFunc(out, func(a, b *Secrets) int { return bytes.Compare(a.clientRandom[:], b.clientRandom[:]) })
		k.t13 = out
	}
	return k.t13
}

// suites13For returns the TLS 1.3 suites whose hash makes secrets of n
// bytes.
func suites13For(n int) []uint16 {
	switch n {
	case 32:
		return []uint16{0x1301, 0x1303}
	case 48:
		return []uint16{0x1302}
	}
	return nil
}

// findMidstream tries the key log's TLS 1.3 traffic secrets on rec, the
// first application data record of d (after the capture started).
func (s *Session) findMidstream(server bool, d *sessDir, rec []byte, h RecordHeader) {
	i := dirIndex(server)
	body := rec[RecordHeaderLen:]
	if s.midFailed[i] {
		s.h.Lost(server, int64(len(body)))
		return
	}
	cands := s.keylog.traffic13()
	nSeq := maxMidstreamSeq
	if len(cands) > 0 {
		nSeq = max(16, min(maxMidstreamSeq, maxMidstreamTrials/(4*len(cands))))
	}
	if s.trials != nil && *s.trials >= MaxMidstreamTrials {
		s.midFailed = [2]bool{true, true}
		s.done = true
		s.h.Problem(server, ProblemNoKey, fmt.Sprintf("the capture starts after the TLS handshake (no ClientHello to match a key); not tried: the %d record openings allowed for such connections were spent on earlier ones", MaxMidstreamTrials))
		s.h.Lost(server, int64(len(body)))
		return
	}
	for _, sec := range cands {
		labels := [2][]byte{sec.ClientTraffic, sec.ServerTraffic}
		if server {
			labels[0], labels[1] = labels[1], labels[0] // its own side's secret first
		}
		for li, secret := range labels {
			for _, id := range suites13For(len(secret)) {
				su := suites[id]
				k, err := su.keys13(secret)
				if err != nil {
					continue
				}
				if s.trials != nil {
					*s.trials += int64(nSeq)
				}
				for seq := range uint64(nSeq) {
					k.seq = seq
					out, ok := s.open(k, su, rec, h, body, nil)
					if !ok {
						continue
					}
					s.midstreamFound(server, d, sec, su, k, labels[1-li], li == 1, len(cands))
					s.inner(server, d, h.Type, out)
					return
				}
			}
		}
	}
	s.midFailed[i] = true
	if s.midFailed[1-i] {
		s.done = true // said once, for the first direction
		s.h.Lost(server, int64(len(body)))
		return
	}
	detail := fmt.Sprintf("the capture starts after the TLS handshake (no ClientHello to match a key): tried the key log's %d TLS 1.3 traffic secrets with TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256 at record numbers 0-%d on the %s's first record; none opened it (TLS 1.2, keys updated before the capture started, or a connection the key log does not have)",
		len(cands), nSeq-1, side(server))
	if len(cands) == 0 {
		detail = "the capture starts after the TLS handshake (no ClientHello to match a key), and the key log has no TLS 1.3 traffic secrets to try"
	}
	s.h.Problem(server, ProblemNoKey, detail)
	s.h.Lost(server, int64(len(body)))
	if len(cands) == 0 {
		s.done = true
	}
}

// midstreamFound keys the session with the secret that opened d's first
// record (k, at the record number that did) and sec's other traffic
// secret for the other direction, whose record number is searched too.
func (s *Session) midstreamFound(server bool, d *sessDir, sec *Secrets, su *suite, k *keys, other []byte, swapped bool, tried int) {
	seq := k.seq
	k.seq++
	s.suite, s.secrets = su, sec
	s.clientRandom = slices.Clone(sec.clientRandom[:])
	s.keylog.Lookup(s.clientRandom) // used: --write-pcap embeds it
	s.Hello.Version, s.Hello.CipherSuite = 0x0304, su.id
	s.Decrypting = true
	d.epochs, d.epoch, d.appEpoch, d.helloed, d.finished = []*keys{k}, 0, 0, true, true
	od := &s.dirs[1-dirIndex(server)]
	od.helloed, od.finished, od.epoch, od.appEpoch = true, true, 0, 0
	od.epochs = []*keys{nil}
	if other != nil {
		if k2, err := su.keys13(other); err == nil {
			od.epochs[0] = k2
			od.seqSearch = maxMidstreamSeq
		}
	}
	// The side whose secret opened it: the TLS client's or server's,
	// whatever the guess of which peer was which.
	isServer := server != swapped
	label := "CLIENT_TRAFFIC_SECRET_0"
	if isServer {
		label = "SERVER_TRAFFIC_SECRET_0"
	}
	s.h.Problem(server, ProblemMidstream, fmt.Sprintf("the capture starts after the TLS handshake: the first record captured from the %s opened with the %s of client random %x (%s) as its record %d, after trying the key log's %d TLS 1.3 traffic secrets; SNI and ALPN are not known",
		side(isServer), label, s.clientRandom, CipherSuiteName(su.id), seq, tried))
}
