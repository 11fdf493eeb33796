package tls

import (
	"bytes"
	"crypto/cipher"
	"crypto/hmac"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Problem is a kind of trouble a Session reports; the dissector turns
// each into a finding.
type Problem uint8

const (
	ProblemNoKey         Problem = iota + 1 // the key log has no secret for this connection
	ProblemUnsupported                      // the version or cipher suite is not decrypted
	ProblemAuth                             // a record does not authenticate: skipped
	ProblemLoss                             // bytes of the TLS stream were lost
	ProblemRenegotiation                    // a TLS 1.2 handshake inside the encrypted connection
	ProblemMalformed                        // a record or handshake message that does not parse
	ProblemAlert                            // an alert other than close_notify
	ProblemEarlyRefused                     // the server refused the client's 0-RTT data (no fault)
	ProblemMidstream                        // the handshake was not captured; a traffic secret of the key log was found to work
)

// Handler receives what a Session decrypted: the application data of each
// direction, in order, the plaintext that was lost, and problems.
type Handler interface {
	AppData(server bool, b []byte)
	Lost(server bool, n int64)
	Problem(server bool, p Problem, detail string)
}

// helloRetryRandom is the ServerHello.random of a HelloRetryRequest (RFC
// 8446 §4.1.3).
var helloRetryRandom, _ = hex.DecodeString("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

// Session reads one TLS connection from its first byte and, with the
// secrets of a KeyLog, decrypts its records: it reads the hellos in clear text (the
// client random finds the secrets; the server's choice gives the version
// and suite), follows the handshake through to the application data keys,
// and hands the application data upward. Records whose header was seen
// but whose bytes do not authenticate are reported and skipped: record
// headers are clear text, so decoding goes on with the next one.
type Session struct {
	// Wait makes a session whose secrets are not in the key log yet hold
	// its records (up to maxWaitBytes) and look again at each record, for
	// a key log that grows while the capture runs (a browser appends a
	// line per connection). Without it, no secret is final at once.
	Wait         bool
	Hello        Hello
	Resumed      bool // the server took the client's session ID or PSK
	Decrypting   bool // keys were found and work
	keylog       *KeyLog
	h            Handler
	clientRandom []byte
	serverRandom []byte
	sessionID    []byte // the client's
	ticket       []byte // the session ticket the client offered
	srvSessionID []byte // the server's, in its hello
	// Rounds, when set, lets a TLS 1.2 session resumed without a line of
	// its own in the key log use the master secret of the full handshake
	// it resumes (resume.go).
	Rounds *Rounds
	// resumedBy says how the master secret of a resumed session was
	// found ("session ticket", "session ID"), "" when it was not.
	resumedBy string
	suite     *suite
	secrets   *Secrets
	hrr       bool // a HelloRetryRequest came first
	done      bool // nothing more can be decrypted
	dirs      [2]sessDir
	// Scratch, when set, holds the buffers that only one record at a
	// time needs, shared by the sessions that one goroutine feeds.
	Scratch   *Scratch
	own       Scratch
	waiting   bool // Wait: the secrets are looked for at each record
	held      []heldRecord
	heldBytes int
	early     earlyData
	// midstream: the handshake was not captured (StartMidstream);
	// midFailed: no traffic secret opened the direction's first record.
	midstream bool
	midFailed [2]bool
	trials    *int64 // record openings tried mid-stream, shared (StartMidstream)
}

// earlyData follows the client's 0-RTT data (RFC 8446 §4.2.10): its
// records come before the server's hello says the suite, so they are held;
// once keys are known they are decrypted (with CLIENT_EARLY_TRAFFIC_SECRET)
// and their plaintext waits for the server's EncryptedExtensions, which
// says whether the server took it (then it heads the client's stream) or
// not (then it was never part of it).
type earlyData struct {
	records   [][]byte // held until the keys are known
	heldBytes int
	keyed     bool // the client's epoch 0 is the early keys (or nil: no secret)
	noKey     bool // no CLIENT_EARLY_TRAFFIC_SECRET: records counted, not decrypted
	plain     []byte
	lost      int64 // bytes of records not decrypted
	n         int   // records
	decided   bool
	accepted  bool
	reported  bool
}

// Scratch is what the sessions fed by one goroutine share: the plaintext,
// nonce and MAC of the record being opened, and the buffers of records
// being assembled, handed back once a record is complete (a connection
// holds one only while one of its records spans segments; 2,000
// connections each keeping a 16 KiB buffer per direction took 64 MB).
type Scratch struct {
	plain, nonce, macBuf []byte
	recs                 [][]byte
}

// maxFreeRecs caps the record buffers a Scratch keeps for reuse.
const maxFreeRecs = 64

func (s *Session) sc() *Scratch {
	if s.Scratch != nil {
		return s.Scratch
	}
	return &s.own
}

// recBuf returns an empty buffer to assemble a record in.
func (sc *Scratch) recBuf() []byte {
	if n := len(sc.recs); n > 0 {
		b := sc.recs[n-1]
		sc.recs = sc.recs[:n-1]
		return b[:0]
	}
	return make([]byte, 0, 1<<10)
}

// doneRec hands back the buffer of a record that was handled.
func (sc *Scratch) doneRec(b []byte) []byte {
	if cap(b) >= 1<<10 && len(sc.recs) < maxFreeRecs {
		sc.recs = append(sc.recs, b[:0])
	}
	return nil
}

// heldRecord is a record kept while the secrets are awaited.
type heldRecord struct {
	server bool
	rec    []byte
}

// maxWaitBytes caps the records a Session holds while it waits for its
// secrets.
const maxWaitBytes = 1 << 20

type sessDir struct {
	rec      []byte // the record being assembled, header included
	need     int    // bytes rec still needs (0: expecting a header)
	lost     bool   // bytes were lost: look for a record header
	drop     int    // bytes of a record that lost bytes, still to come and be dropped
	seqLost  bool   // records may have been lost: search the sequence number
	hs       []byte // handshake messages in clear text, being assembled
	ccs      bool   // sent ChangeCipherSpec (TLS 1.2: encrypted from now on)
	epochs   []*keys
	epoch    int
	appEpoch int  // index of the first application data keys (TLS 1.3)
	helloed  bool // its hello was read
	finished bool // its Finished was decrypted
	records  int64
	// seqSearch, when set, is how many record numbers the next record is
	// tried at: the capture started after an unknown number of records.
	seqSearch int
}

// ClientRandom returns the ClientHello's random (hex), "" before it.
func (s *Session) ClientRandom() string { return hex.EncodeToString(s.clientRandom) }

// Done reports whether the session has nothing more to decrypt: without
// a key log once the hellos were read, and with one when its secrets are
// missing or its version or suite is not decrypted.
func (s *Session) Done() bool { return s.done }

// NewSession returns a Session that looks secrets up in keylog and hands
// what it decrypts to h. With a nil keylog it only reads the hellos.
func NewSession(keylog *KeyLog, h Handler) *Session {
	return &Session{keylog: keylog, h: h}
}

// Feed hands the session stream bytes sent by the client (server false) or
// the server. It does not keep b.
func (s *Session) Feed(server bool, b []byte) {
	d := &s.dirs[dirIndex(server)]
	for len(b) > 0 && !s.done {
		if d.drop > 0 {
			n := min(d.drop, len(b))
			d.drop -= n
			b = b[n:]
			continue
		}
		if d.lost {
			i := resyncOffset(b)
			if i < 0 {
				s.h.Lost(server, int64(len(b)))
				return
			}
			if i > 0 {
				s.h.Lost(server, int64(i))
			}
			b = b[i:]
			d.lost = false
			d.rec, d.need = d.rec[:0], 0
		}
		if d.need == 0 {
			// A header: complete it.
			if d.rec == nil {
				d.rec = s.sc().recBuf()
			}
			n := min(RecordHeaderLen-len(d.rec), len(b))
			d.rec = append(d.rec, b[:n]...)
			b = b[n:]
			if len(d.rec) < RecordHeaderLen {
				return
			}
			h, _ := ParseRecordHeader(d.rec)
			if !h.Plausible() {
				if !d.helloed {
					// Before its hello the peer has not shown it speaks
					// TLS: nothing to resynchronise on.
					s.h.Problem(server, ProblemMalformed, fmt.Sprintf("not a TLS record header: % x; the connection is not read further", d.rec))
					s.done = true
					return
				}
				s.h.Problem(server, ProblemMalformed, fmt.Sprintf("not a TLS record header: % x; looking for the next one", d.rec))
				d.lost, d.rec = true, d.rec[:0]
				continue
			}
			d.need = h.Length
			if d.need == 0 {
				s.record(server, d, d.rec)
				d.rec = s.sc().doneRec(d.rec)
			}
			continue
		}
		n := min(d.need, len(b))
		d.rec = append(d.rec, b[:n]...)
		d.need -= n
		b = b[n:]
		if d.need == 0 {
			s.record(server, d, d.rec)
			d.rec = s.sc().doneRec(d.rec)
		}
	}
}

// Gap says that n bytes of the direction's stream were not captured.
func (s *Session) Gap(server bool, n int64) {
	d := &s.dirs[dirIndex(server)]
	s.h.Problem(server, ProblemLoss, fmt.Sprintf("%d bytes of the TLS stream from the %s were not captured; decryption goes on at the next record", n, side(server)))
	if d.drop > 0 {
		// More of a record already given up on.
		if int64(d.drop) >= n {
			d.drop -= int(n)
			return
		}
		n -= int64(d.drop)
		d.drop = 0
	}
	if d.need > 0 {
		// Inside a record, which cannot authenticate now: it is lost, but
		// it took a sequence number.
		h, _ := ParseRecordHeader(d.rec)
		if k := d.current(); k != nil && s.encrypted(server, d, h) {
			k.seq++
		}
		s.h.Lost(server, int64(h.Length))
		if int64(d.need) > n {
			d.drop = d.need - int(n) // the rest of the record still comes
			d.need, d.rec = 0, d.rec[:0]
			return
		}
		n -= int64(d.need)
		d.need, d.rec = 0, d.rec[:0]
		if n == 0 {
			return // the loss ended with the record
		}
	}
	// Whole records may have been lost: how many is unknown, so the next
	// record's sequence number is searched for.
	s.h.Lost(server, n)
	d.lost, d.seqLost = true, true
	d.rec, d.need = d.rec[:0], 0
}

func dirIndex(server bool) int {
	if server {
		return 1
	}
	return 0
}

// resyncOffset finds where a chain of plausible record headers starts in
// b, -1 when none does.
func resyncOffset(b []byte) int {
	for i := 0; i+RecordHeaderLen <= len(b) && i < 1<<14+2048+RecordHeaderLen; i++ {
		h, _ := ParseRecordHeader(b[i:])
		if !h.Plausible() || h.Type == Heartbeat {
			continue
		}
		next := i + RecordHeaderLen + h.Length
		if next == len(b) {
			return i
		}
		if next+RecordHeaderLen <= len(b) {
			if h2, _ := ParseRecordHeader(b[next:]); h2.Plausible() {
				return i
			}
		}
	}
	return -1
}

func (d *sessDir) current() *keys {
	if d.epoch < len(d.epochs) {
		return d.epochs[d.epoch]
	}
	return nil
}

// record handles one whole record, header included.
func (s *Session) record(server bool, d *sessDir, rec []byte) {
	if s.waiting && !s.await(server, rec) {
		return
	}
	d.records++
	h, _ := ParseRecordHeader(rec)
	body := rec[RecordHeaderLen:]
	switch {
	case h.Type == ChangeCipherSpec:
		d.ccs = true // TLS 1.2: this direction encrypts from the next record on (TLS 1.3: middlebox compatibility)
		return
	case s.done:
		return
	case !server && s.suite == nil && s.Hello.EarlyData && h.Type == ApplicationData && s.keylog != nil &&
		s.early.heldBytes+len(rec) <= maxWaitBytes:
		// 0-RTT data: held until the server's hello gives the keys.
		s.early.records = append(s.early.records, bytes.Clone(rec))
		s.early.heldBytes += len(rec)
	case s.midstream && s.suite == nil && h.Type == ApplicationData:
		s.findMidstream(server, d, rec, h)
	case d.ccs && s.suite == nil:
		// Encrypted before the server's hello said how (only when the
		// directions were captured out of order): not to be read.
		s.h.Lost(server, int64(len(body)))
	case s.encrypted(server, d, h):
		s.decrypt(server, d, rec, h)
	case h.Type == Handshake:
		s.handshake(server, d, body, false)
	case h.Type == Alert:
		s.alert(server, body)
	case h.Type == ApplicationData:
		// Application data before any keys: nothing to do with it.
		s.h.Lost(server, int64(len(body)))
	}
}

// encrypted reports whether records of type h.Type from d are encrypted
// at this point.
func (s *Session) encrypted(server bool, d *sessDir, h RecordHeader) bool {
	if s.suite == nil {
		return false
	}
	if s.suite.tls13 {
		return h.Type == ApplicationData
	}
	return d.ccs
}

// handshake reads clear-text (or decrypted) handshake messages.
func (s *Session) handshake(server bool, d *sessDir, b []byte, decrypted bool) {
	if len(d.hs)+len(b) > MaxHello {
		s.h.Problem(server, ProblemMalformed, "a handshake message longer than wscap reads")
		d.hs = nil
		return
	}
	d.hs = append(d.hs, b...)
	for len(d.hs) >= 4 {
		n := int(d.hs[1])<<16 | int(d.hs[2])<<8 | int(d.hs[3])
		if n > MaxHello {
			s.h.Problem(server, ProblemMalformed, fmt.Sprintf("a %d-byte handshake message announced, longer than wscap reads", n))
			d.hs = nil
			return
		}
		if len(d.hs) < 4+n {
			return
		}
		msg, body := d.hs[0], d.hs[4:4+n]
		s.message(server, d, msg, body, decrypted)
		d.hs = d.hs[4+n:]
	}
	if len(d.hs) == 0 {
		d.hs = nil
	}
}

// message handles one handshake message.
func (s *Session) message(server bool, d *sessDir, typ byte, body []byte, decrypted bool) {
	if want := byte(typeClientHello); !decrypted && !d.helloed {
		if server {
			want = typeServerHello
		}
		if typ != want {
			s.h.Problem(server, ProblemMalformed, fmt.Sprintf("the %s's first handshake message is of type %d, not its hello", side(server), typ))
			s.done = true
			return
		}
	}
	switch {
	case typ == typeClientHello && !server && !decrypted:
		var h Hello
		if err := ParseClientHello(body, &h); err != nil {
			s.h.Problem(server, ProblemMalformed, err.Error())
			return
		}
		if !d.helloed {
			s.Hello.ServerName, s.Hello.ALPN, s.Hello.Versions, s.Hello.EarlyData = h.ServerName, h.ALPN, h.Versions, h.EarlyData
			s.clientRandom = bytes.Clone(body[2:34])
			if sl := int(body[34]); 35+sl <= len(body) {
				s.sessionID = bytes.Clone(body[35 : 35+sl])
			}
			s.ticket = bytes.Clone(h.Ticket)
		}
		d.helloed = true
	case typ == typeServerHello && server && !decrypted:
		if len(body) < 35 {
			s.h.Problem(server, ProblemMalformed, "a ServerHello shorter than its random")
			return
		}
		if err := ParseServerHello(body, &s.Hello); err != nil {
			s.h.Problem(server, ProblemMalformed, err.Error())
			return
		}
		if bytes.Equal(body[2:34], helloRetryRandom) {
			s.hrr = true // the client sends a second ClientHello, same random
			return
		}
		s.serverRandom = bytes.Clone(body[2:34])
		if sl := int(body[34]); sl > 0 && 35+sl <= len(body) {
			s.srvSessionID = bytes.Clone(body[35 : 35+sl])
			if bytes.Equal(s.srvSessionID, s.sessionID) && s.Hello.Version != 0x0304 {
				s.Resumed = true
			}
		}
		d.helloed = true
		s.keysReady()
	case typ == 8 && decrypted && server && s.suite.tls13: // EncryptedExtensions
		s.early.decided = true
		s.early.accepted = s.Hello.EarlyData && hasExtension(body, extEarlyData)
		s.earlyDone()
	case typ == 20 && decrypted: // Finished
		d.finished = true
		if s.suite.tls13 && d.epoch < d.appEpoch {
			d.epoch = d.appEpoch
		}
	case typ == 24 && decrypted && s.suite.tls13: // KeyUpdate (RFC 8446 §4.6.3)
		if k := d.current(); k != nil && k.secret != nil {
			nk, err := s.suite.keys13(s.suite.nextSecret(k.secret))
			if err == nil {
				d.epochs = append(d.epochs, nk)
				d.epoch = len(d.epochs) - 1
			}
		}
	case typ == typeNewSessionTicket && server && !decrypted && s.suite != nil && !s.suite.tls13:
		s.registerTicket(body)
	case typ == 0 && decrypted && !s.suite.tls13 && d.finished:
		s.h.Problem(server, ProblemRenegotiation, "a HelloRequest: the server asks for a renegotiation")
	case typ == typeClientHello && decrypted && !s.suite.tls13:
		s.h.Problem(server, ProblemRenegotiation, "a ClientHello inside the encrypted connection: a renegotiation, whose new keys wscap does not follow")
		s.done = true
	}
}

// endOfEarlyDataRecord is the length of a record holding only the
// EndOfEarlyData message, unpadded: its 4 bytes, the inner content type
// and the 16-byte tag of every TLS 1.3 AEAD.
const endOfEarlyDataRecord = 4 + 1 + 16

// earlyDone hands over (or reports, once) the client's 0-RTT data once
// the server has said whether it took it.
func (s *Session) earlyDone() {
	e := &s.early
	if e.decided && !e.accepted && s.Hello.EarlyData && !e.reported {
		e.reported = true
		s.h.Problem(true, ProblemEarlyRefused, fmt.Sprintf("the server refused the client's 0-RTT early data (%d records, %d bytes): not part of the stream; a client sends it again after the handshake", e.n, int64(len(e.plain))+e.lost))
		e.plain = nil
	}
	if !e.decided || !e.accepted {
		return
	}
	if len(e.plain) > 0 {
		s.h.AppData(false, e.plain)
		e.plain = nil
	}
	if e.lost > 0 {
		why := "they do not decrypt"
		if e.noKey {
			why = fmt.Sprintf("the key log has no CLIENT_EARLY_TRAFFIC_SECRET for client random %x", s.clientRandom)
		}
		if !e.reported {
			e.reported = true
			s.h.Problem(false, ProblemNoKey, fmt.Sprintf("the server took the client's 0-RTT early data, but %s: %d bytes lost", why, e.lost))
		}
		s.h.Lost(false, e.lost)
		e.lost = 0
	}
}

// replayEarly decrypts the 0-RTT records held until the keys were known.
func (s *Session) replayEarly() {
	recs := s.early.records
	s.early.records, s.early.heldBytes = nil, 0
	d := &s.dirs[0]
	for _, rec := range recs {
		d.records++
		h, _ := ParseRecordHeader(rec)
		s.decrypt(false, d, rec, h)
	}
}

// hasExtension reports whether an EncryptedExtensions body lists
// extension typ.
func hasExtension(body []byte, typ uint16) bool {
	if len(body) < 2 {
		return false
	}
	b := body[2:]
	for len(b) >= 4 {
		t, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if t == typ {
			return true
		}
		if 4+n > len(b) {
			return false
		}
		b = b[4+n:]
	}
	return false
}

// keysReady finds the secrets once both hellos were read.
func (s *Session) keysReady() {
	id := s.Hello.CipherSuite
	sv := s.Hello.Version
	su := suites[id]
	switch {
	case s.keylog == nil:
		s.done = true // no key log: the hellos were all there was to read
		return
	case sv != 0x0303 && sv != 0x0304:
		s.h.Problem(true, ProblemUnsupported, fmt.Sprintf("%s is not decrypted", VersionName(sv)))
		s.done = true
		return
	case su == nil || su.tls13 != (sv == 0x0304):
		s.h.Problem(true, ProblemUnsupported, fmt.Sprintf("cipher suite %s is not decrypted (AES-GCM, ChaCha20-Poly1305 and AES-CBC suites are)", CipherSuiteName(id)))
		s.done = true
		return
	}
	s.suite = su
	sec := s.lookup()
	if sec == nil && (s.Wait || s.canResume()) {
		s.waiting = true
		return
	}
	if sec == nil {
		s.noKey()
		return
	}
	s.useSecrets(sec)
}

// noKey reports that the key log has no secret for the connection.
func (s *Session) noKey() {
	why := ""
	if s.Resumed {
		why = "; the connection resumes an earlier TLS 1.2 session, and no full handshake of that session (by its session ticket or ID) was decrypted with the key log early enough in the capture to carry its master secret over (some stacks, Go's among them, log no line for a resumption)"
	}
	s.h.Problem(false, ProblemNoKey, fmt.Sprintf("no secret in the key log for client random %x%s", s.clientRandom, why))
	s.done = true
}

// useSecrets derives the record keys from the connection's secrets.
func (s *Session) useSecrets(sec *Secrets) {
	su := s.suite
	s.secrets = sec
	cl, sv2 := &s.dirs[0], &s.dirs[1]
	if su.tls13 {
		add := func(d *sessDir, secret []byte) bool {
			if secret == nil {
				d.epochs = append(d.epochs, nil)
				return false
			}
			k, err := su.keys13(secret)
			if err != nil {
				d.epochs = append(d.epochs, nil)
				return false
			}
			d.epochs = append(d.epochs, k)
			return true
		}
		first := 0 // the client's handshake epoch
		if s.Hello.EarlyData {
			// Epoch 0 is the early keys (nil without the secret).
			s.early.keyed = true
			s.early.noKey = !add(cl, sec.ClientEarly)
			first = 1
		}
		okC := add(cl, sec.ClientHandshake)
		okS := add(sv2, sec.ServerHandshake)
		cl.appEpoch, sv2.appEpoch = first+1, 1
		okC = add(cl, sec.ClientTraffic) || okC
		okS = add(sv2, sec.ServerTraffic) || okS
		if !okC && !okS {
			s.h.Problem(false, ProblemNoKey, fmt.Sprintf("the key log has no TLS 1.3 traffic secrets for client random %x", s.clientRandom))
			s.done = true
			return
		}
	} else {
		if sec.Master == nil {
			s.h.Problem(false, ProblemNoKey, fmt.Sprintf("the key log has no CLIENT_RANDOM (master secret) for client random %x", s.clientRandom))
			s.done = true
			return
		}
		c, v, err := su.keys12(sec.Master, s.clientRandom, s.serverRandom)
		if err != nil {
			s.h.Problem(false, ProblemUnsupported, err.Error())
			s.done = true
			return
		}
		cl.epochs, sv2.epochs = []*keys{c}, []*keys{v}
		s.registerSessionID()
	}
	s.Decrypting = true
	if len(s.early.records) > 0 {
		s.replayEarly()
	}
}

// decrypt opens one encrypted record and hands on what it holds. A record
// that does not open with the current keys is tried with the later ones
// of the direction (TLS 1.3: the handshake keys give way to the
// application keys after Finished, which a lost record may have hidden).
func (s *Session) decrypt(server bool, d *sessDir, rec []byte, h RecordHeader) {
	su := s.suite
	body := rec[RecordHeaderLen:]
	var explicit []byte
	if su.explicit > 0 {
		if len(body) < su.explicit {
			s.h.Problem(server, ProblemMalformed, "an encrypted record shorter than its explicit nonce")
			return
		}
		explicit, body = body[:su.explicit], body[su.explicit:]
	}
	tries := 1
	if d.seqLost {
		tries = maxLostRecords
	}
	if d.seqSearch > 0 {
		tries, d.seqSearch = d.seqSearch, 0
	}
	for e := d.epoch; e < len(d.epochs); e++ {
		k := d.epochs[e]
		if k == nil {
			continue
		}
		base := k.seq
		for t := 0; t < tries; t++ {
			k.seq = base + uint64(t)
			if out, ok := s.open(k, su, rec, h, body, explicit); ok {
				k.seq++
				d.epoch, d.seqLost = e, false
				s.inner(server, d, h.Type, out)
				return
			}
		}
		k.seq = base
	}
	if !server && s.early.keyed && d.epoch == 0 {
		// 0-RTT data without its keys, or that they do not open.
		if s.early.decided && h.Length == endOfEarlyDataRecord {
			return // the EndOfEarlyData message, not data
		}
		s.early.lost += int64(h.Length)
		s.early.n++
		s.earlyDone()
		return
	}
	if k := d.current(); k != nil {
		k.seq++ // the record took its number
	}
	s.h.Problem(server, ProblemAuth, fmt.Sprintf("a %d-byte record (record %d of the %s) does not authenticate: wrong key, corrupted or forged; it is skipped", h.Length, d.records, side(server)))
	s.h.Lost(server, int64(h.Length))
}

// openCBC decrypts one record of a CBC suite with k at its current
// sequence number (RFC 5246 §6.2.3.2; RFC 7366 with encrypt_then_mac):
// IV, then the ciphertext of content, MAC and padding; or IV and
// ciphertext of content and padding, then the MAC of both.
func (s *Session) openCBC(k *keys, su *suite, rec []byte, h RecordHeader, body []byte) ([]byte, bool) {
	const bs = 16 // aes.BlockSize
	var tag []byte
	etm := s.Hello.EncryptThenMAC
	if etm {
		if len(body) < su.macLen {
			return nil, false
		}
		body, tag = body[:len(body)-su.macLen], body[len(body)-su.macLen:]
		if !s.checkMAC(k, h.Type, rec, body, tag) {
			return nil, false
		}
	}
	if len(body) < 2*bs || len(body)%bs != 0 {
		return nil, false
	}
	iv, ct := body[:bs], body[bs:]
	sc := s.sc()
	out := append(sc.plain[:0], ct...)
	cipher.NewCBCDecrypter(k.block, iv).CryptBlocks(out, out)
	pad := int(out[len(out)-1])
	if pad+1 > len(out) {
		return nil, false
	}
	for _, b := range out[len(out)-1-pad:] {
		if int(b) != pad {
			return nil, false
		}
	}
	out = out[:len(out)-1-pad]
	if !etm {
		if len(out) < su.macLen {
			return nil, false
		}
		out, tag = out[:len(out)-su.macLen], out[len(out)-su.macLen:]
		if !s.checkMAC(k, h.Type, rec, out, tag) {
			return nil, false
		}
	}
	sc.plain = out[:0]
	return out, true
}

// checkMAC reports whether tag is the record MAC of b (RFC 5246 §6.2.3.1:
// over the sequence number, type, version and length of b, then b).
func (s *Session) checkMAC(k *keys, typ ContentType, rec, b, tag []byte) bool {
	var a [13]byte
	binary.BigEndian.PutUint64(a[:8], k.seq)
	a[8], a[9], a[10] = byte(typ), rec[1], rec[2]
	binary.BigEndian.PutUint16(a[11:], uint16(len(b)))
	k.hmac.Reset()
	k.hmac.Write(a[:])
	k.hmac.Write(b)
	sc := s.sc()
	sc.macBuf = k.hmac.Sum(sc.macBuf[:0])
	return hmac.Equal(sc.macBuf, tag)
}

// maxLostRecords is how many sequence numbers are tried after a loss.
const maxLostRecords = 256

// open decrypts one record with k at its current sequence number.
func (s *Session) open(k *keys, su *suite, rec []byte, h RecordHeader, body, explicit []byte) ([]byte, bool) {
	if su.cbc {
		return s.openCBC(k, su, rec, h, body)
	}
	{
		sc := s.sc()
		sc.nonce = k.nonce(sc.nonce, su, explicit)
		var aad []byte
		if su.tls13 {
			aad = rec[:RecordHeaderLen]
		} else {
			var a [13]byte
			for i := 0; i < 8; i++ {
				a[7-i] = byte(k.seq >> (8 * i))
			}
			a[8], a[9], a[10] = byte(h.Type), rec[1], rec[2]
			n := len(body) - k.aead.Overhead()
			if n < 0 {
				return nil, false
			}
			a[11], a[12] = byte(n>>8), byte(n)
			aad = a[:]
		}
		out, err := k.aead.Open(sc.plain[:0], sc.nonce, body, aad)
		if err != nil {
			return nil, false
		}
		sc.plain = out[:0]
		return out, true
	}
}

// inner handles a decrypted record: TLS 1.3 carries the real content type
// at the end of the plaintext, after which padding zeros follow (RFC 8446
// §5.4).
func (s *Session) inner(server bool, d *sessDir, typ ContentType, b []byte) {
	if s.suite.tls13 {
		i := len(b) - 1
		for i >= 0 && b[i] == 0 {
			i--
		}
		if i < 0 {
			s.h.Problem(server, ProblemMalformed, "a TLS 1.3 record of padding only")
			return
		}
		typ, b = ContentType(b[i]), b[:i]
	}
	switch typ {
	case ApplicationData:
		if len(b) == 0 {
			break
		}
		if !server && s.early.keyed && d.epoch == 0 && !s.early.decided {
			// 0-RTT plaintext: it waits for the server's verdict.
			if len(s.early.plain)+len(b) <= maxWaitBytes {
				s.early.plain = append(s.early.plain, b...)
			} else {
				s.early.lost += int64(len(b))
			}
			s.early.n++
			break
		}
		if !server && s.early.keyed && d.epoch == 0 && !s.early.accepted {
			break // the server refused the early data: never in the stream
		}
		s.h.AppData(server, b)
	case Handshake:
		s.handshake(server, d, b, true)
	case Alert:
		s.alert(server, b)
	}
}

func (s *Session) alert(server bool, b []byte) {
	if len(b) == 2 && b[1] == 0 {
		return // close_notify
	}
	if len(b) == 2 {
		s.h.Problem(server, ProblemAlert, fmt.Sprintf("the %s sent a TLS alert (level %d, description %d)", side(server), b[0], b[1]))
	}
}

func side(server bool) string {
	if server {
		return "server"
	}
	return "client"
}

// await holds rec while the secrets are awaited and looks them up again;
// it reports whether rec is to be handled now (they were found, and the
// records held before it were handled).
func (s *Session) await(server bool, rec []byte) bool {
	if sec := s.lookup(); sec != nil {
		s.waiting = false
		s.useSecrets(sec)
		held := s.held
		s.held, s.heldBytes = nil, 0
		for _, h := range held {
			s.record(h.server, &s.dirs[dirIndex(h.server)], h.rec)
		}
		return true
	}
	if s.heldBytes+len(rec) > maxWaitBytes {
		s.waiting, s.held, s.heldBytes = false, nil, 0
		s.noKey()
		return false
	}
	s.held = append(s.held, heldRecord{server, bytes.Clone(rec)})
	s.heldBytes += len(rec)
	return false
}

// Close ends the session: secrets still awaited are reported missing.
func (s *Session) Close() {
	if s.waiting {
		s.waiting, s.held = false, nil
		s.noKey()
	}
}
