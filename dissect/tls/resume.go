package tls

import (
	"encoding/binary"
)

// TLS 1.2 resumption (RFC 5246 §7.3, RFC 5077): an abbreviated handshake
// reuses the master secret of an earlier full one, found by the session ID
// the server echoes or the ticket the client offers. Some stacks (Go's
// crypto/tls among them) log no line for it. When the full handshake was
// decrypted with the key log, its master secret is kept here, under its
// session ID and every ticket the server issued in clear text, for the
// sessions that resume it.
//
// The pipeline decodes connections on several shards at once, so a
// secret registered by one shard reaches the others at no fixed moment.
// To keep the output the same for any number of shards, a secret is used
// only from the round of input (Rounds.Now) Rounds.Lag rounds after the one
// it was registered in: by then every shard has finished that round. A
// resumed session whose secret is not visible yet holds its records (up to
// maxWaitBytes) and looks again at each.

// Rounds is the pipeline's round of input being decoded (Now) and how many
// rounds later every shard is sure to have finished it (Lag).
type Rounds struct {
	Now, Lag uint64
}

// maxResumable caps the master secrets kept for resumption.
const maxResumable = 1 << 20

const typeNewSessionTicket = 4

type resumable struct {
	master []byte
	round  uint64
}

// addResumable keeps master under key (a session ID or ticket, tagged),
// registered in round; the earliest registration of a key stays.
func (k *KeyLog) addResumable(key string, master []byte, round uint64) {
	k.rmu.Lock()
	defer k.rmu.Unlock()
	if k.resume == nil {
		k.resume = map[string]resumable{}
	}
	if old, ok := k.resume[key]; ok && old.round <= round || len(k.resume) >= maxResumable {
		return
	}
	k.resume[key] = resumable{master, round}
}

// resumableBefore returns the master secret kept under key in a round
// before round, nil if none.
func (k *KeyLog) resumableBefore(key string, round uint64) []byte {
	k.rmu.Lock()
	defer k.rmu.Unlock()
	if r, ok := k.resume[key]; ok && r.round < round {
		return r.master
	}
	return nil
}

// canResume reports whether s may find its master secret from an earlier
// full handshake.
func (s *Session) canResume() bool {
	return s.Rounds != nil && s.Resumed && s.suite != nil && !s.suite.tls13 && (len(s.ticket) > 0 || len(s.sessionID) > 0)
}

// lookup finds s's secrets: its own in the key log, or, for a resumed
// TLS 1.2 session, the master secret of the session it resumes.
func (s *Session) lookup() *Secrets {
	if sec := s.keylog.Lookup(s.clientRandom); sec != nil {
		return sec
	}
	if !s.canResume() || s.Rounds.Now < s.Rounds.Lag {
		return nil
	}
	before := s.Rounds.Now - s.Rounds.Lag + 1 // registered no later than Now-Lag
	for _, c := range []struct {
		key, by string
	}{{"t" + string(s.ticket), "session ticket"}, {"i" + string(s.sessionID), "session ID"}} {
		if len(c.key) == 1 {
			continue
		}
		if m := s.keylog.resumableBefore(c.key, before); m != nil {
			s.resumedBy = c.by
			return &Secrets{Master: m}
		}
	}
	return nil
}

// ResumedBy says how the master secret of a resumed TLS 1.2 session was
// carried over from its full handshake ("session ticket", "session ID"),
// "" when it was not.
func (s *Session) ResumedBy() string { return s.resumedBy }

// registerSessionID keeps the master secret of a TLS 1.2 full handshake
// under the session ID its server gave.
func (s *Session) registerSessionID() {
	if s.Rounds == nil || s.Resumed || len(s.srvSessionID) == 0 || s.secrets == nil || s.secrets.Master == nil {
		return
	}
	s.keylog.addResumable("i"+string(s.srvSessionID), s.secrets.Master, s.Rounds.Now)
}

// registerTicket keeps the master secret of a TLS 1.2 session under the
// ticket of a NewSessionTicket message (RFC 5077 §3.3): lifetime hint,
// then the ticket with its length.
func (s *Session) registerTicket(body []byte) {
	if s.Rounds == nil || s.secrets == nil || s.secrets.Master == nil || len(body) < 6 {
		return
	}
	n := int(binary.BigEndian.Uint16(body[4:6]))
	if n == 0 || 6+n > len(body) {
		return
	}
	s.keylog.addResumable("t"+string(body[6:6+n]), s.secrets.Master, s.Rounds.Now)
}
