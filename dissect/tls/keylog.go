package tls

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// Secrets of one TLS connection, from a key log. Which are set depends on
// the version: TLS 1.2 has the master secret, TLS 1.3 the traffic secrets.
type Secrets struct {
	Master          []byte // CLIENT_RANDOM (TLS 1.2 and earlier)
	ClientHandshake []byte // CLIENT_HANDSHAKE_TRAFFIC_SECRET
	ServerHandshake []byte // SERVER_HANDSHAKE_TRAFFIC_SECRET
	ClientTraffic   []byte // CLIENT_TRAFFIC_SECRET_0
	ServerTraffic   []byte // SERVER_TRAFFIC_SECRET_0
	ClientEarly     []byte // CLIENT_EARLY_TRAFFIC_SECRET
	clientRandom    [32]byte
}

// KeyLog holds the secrets of a key log in the NSS format that browsers,
// curl, node, Python, OpenSSL and Go write (SSLKEYLOGFILE): one line per
// secret, "LABEL <client random, hex> <secret, hex>". It is safe for
// concurrent use: the shards of a pipeline share one.
type KeyLog struct {
	mu      sync.RWMutex
	secrets map[[32]byte]*Secrets
	umu     sync.Mutex
	used    map[[32]byte]bool // looked up and found (WriteUsed)
	rmu     sync.Mutex
	resume  map[string]resumable // master secrets by session ID and ticket (resume.go)
	// t13 are the secrets with TLS 1.3 traffic secrets, by client random
	// (midstream.go); nil after a line was added.
	t13 []*Secrets
}

// NewKeyLog returns an empty KeyLog.
func NewKeyLog() *KeyLog { return &KeyLog{secrets: map[[32]byte]*Secrets{}} }

// KeyLogError is a line of a key log that could not be used.
type KeyLogError struct {
	Line   int
	Reason string
}

func (e *KeyLogError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// maxKeyLogLine caps a line: the longest valid one is about 230 bytes.
const maxKeyLogLine = 4096

// Read adds the secrets of the key log r to k. It returns the number of
// secrets added and the lines it skipped (malformed, or with an unknown
// label other than the ones it knows to ignore), each with its number;
// comments and blank lines are skipped silently. The error is r's.
func (k *KeyLog) Read(r io.Reader) (int, []KeyLogError, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), maxKeyLogLine)
	var bad []KeyLogError
	n, line := 0, 0
	for sc.Scan() {
		line++
		ok, reason := k.addLine(sc.Bytes())
		switch {
		case ok:
			n++
		case reason != "":
			bad = append(bad, KeyLogError{line, reason})
		}
	}
	err := sc.Err()
	if err == bufio.ErrTooLong {
		bad = append(bad, KeyLogError{line + 1, fmt.Sprintf("longer than %d bytes; the rest of the file is not read", maxKeyLogLine)})
		err = nil
	}
	return n, bad, err
}

// Add adds one key log line (as from a pcapng Decryption Secrets Block).
// It reports whether the line held a secret; reason says why not, "" for
// comments, blank lines and labels that are ignored.
func (k *KeyLog) Add(line []byte) (ok bool, reason string) { return k.addLine(line) }

func (k *KeyLog) addLine(b []byte) (bool, string) {
	b = bytes.TrimRight(b, "\r")
	s := strings.TrimSpace(string(b))
	if s == "" || s[0] == '#' {
		return false, ""
	}
	f := strings.Fields(s)
	if len(f) != 3 {
		return false, fmt.Sprintf("%d fields, want 3 (LABEL client_random secret)", len(f))
	}
	label := f[0]
	switch label {
	case "CLIENT_RANDOM", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
		"CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "CLIENT_EARLY_TRAFFIC_SECRET":
	case "EXPORTER_SECRET", "EARLY_EXPORTER_SECRET", "RSA", "ECH_SECRET", "ECH_CONFIG":
		return false, "" // not needed to decrypt records
	default:
		return false, fmt.Sprintf("unknown label %q", label)
	}
	cr, err := hex.DecodeString(f[1])
	if err != nil || len(cr) != 32 {
		return false, fmt.Sprintf("the client random is not 32 bytes in hex: %.20q", f[1])
	}
	secret, err := hex.DecodeString(f[2])
	if err != nil || len(secret) == 0 || len(secret) > 64 {
		return false, "the secret is not 1 to 64 bytes in hex"
	}
	if label == "CLIENT_RANDOM" && len(secret) != 48 {
		return false, fmt.Sprintf("a master secret is 48 bytes, this one %d", len(secret))
	}
	var key [32]byte
	copy(key[:], cr)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.t13 = nil
	sec := k.secrets[key]
	if sec == nil {
		sec = &Secrets{clientRandom: key}
		k.secrets[key] = sec
	}
	switch label {
	case "CLIENT_RANDOM":
		sec.Master = secret
	case "CLIENT_HANDSHAKE_TRAFFIC_SECRET":
		sec.ClientHandshake = secret
	case "SERVER_HANDSHAKE_TRAFFIC_SECRET":
		sec.ServerHandshake = secret
	case "CLIENT_TRAFFIC_SECRET_0":
		sec.ClientTraffic = secret
	case "SERVER_TRAFFIC_SECRET_0":
		sec.ServerTraffic = secret
	case "CLIENT_EARLY_TRAFFIC_SECRET":
		sec.ClientEarly = secret
	}
	return true, ""
}

// Lookup returns the secrets logged for a connection's client random, or
// nil. The Secrets must not be modified.
func (k *KeyLog) Lookup(clientRandom []byte) *Secrets {
	if k == nil || len(clientRandom) != 32 {
		return nil
	}
	var key [32]byte
	copy(key[:], clientRandom)
	k.mu.RLock()
	sec := k.secrets[key]
	k.mu.RUnlock()
	if sec != nil {
		k.umu.Lock()
		if k.used == nil {
			k.used = map[[32]byte]bool{}
		}
		k.used[key] = true
		k.umu.Unlock()
	}
	return sec
}

// WriteUsed writes, in the key log format, the secrets of the connections
// Lookup found, ordered by client random: what a capture exported with
// them needs to be decrypted.
func (k *KeyLog) WriteUsed(w io.Writer) error {
	if k == nil {
		return nil
	}
	k.umu.Lock()
	keys := make([][32]byte, 0, len(k.used))
	for cr := range k.used {
		keys = append(keys, cr)
	}
	k.umu.Unlock()
	slices.SortFunc(keys, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, cr := range keys {
		s := k.secrets[cr]
		for _, l := range []struct {
			label  string
			secret []byte
		}{{"CLIENT_RANDOM", s.Master}, {"CLIENT_EARLY_TRAFFIC_SECRET", s.ClientEarly}, {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", s.ClientHandshake},
			{"SERVER_HANDSHAKE_TRAFFIC_SECRET", s.ServerHandshake}, {"CLIENT_TRAFFIC_SECRET_0", s.ClientTraffic}, {"SERVER_TRAFFIC_SECRET_0", s.ServerTraffic}} {
			if l.secret == nil {
				continue
			}
			if _, err := fmt.Fprintf(w, "%s %x %x\n", l.label, cr[:], l.secret); err != nil {
				return err
			}
		}
	}
	return nil
}

// Len returns the number of client randoms with secrets.
func (k *KeyLog) Len() int {
	if k == nil {
		return 0
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.secrets)
}
