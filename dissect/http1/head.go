// Package http1 parses the heads of HTTP/1.x messages (RFC 9112): a request
// line or status line and the header section, as they carry the WebSocket
// opening handshake (RFC 6455 §4) and the requests before it. Pure functions
// over bytes, no I/O, bounded work and allocation on hostile input. It knows
// nothing of WebSocket: package dissect checks the handshake's rules on the
// heads parsed here. It is a package of its own, as x/net keeps http2/hpack
// apart from http2.
//
// Leniency, decided once here:
//   - Lines may end in CRLF or a bare LF (RFC 9112 §2.2 allows it); nothing is
//     recorded about it.
//   - Empty lines before a request line or status line are skipped (RFC 9112
//     §2.2 "SHOULD ignore at least one empty line"); they count as consumed.
//   - obs-fold (a field line starting with SP or HTAB, RFC 9112 §5.2) is joined
//     to the previous field value with a single SP, and the head's ObsFold is
//     set so the caller can report it. A continuation with no field before it
//     is a *HeadError.
//   - A status line may omit the SP after the status code and may have extra
//     SP before it, as Go's net/http client accepts; the request line is strict
//     (single SP separators, as net/http's server).
//   - Everything else that RFC 9112 rejects is a *HeadError: a field name that
//     is not a token (including whitespace before the colon, §5.1), a line
//     without a colon, control bytes (bare CR, NUL, DEL, ...) in a value, target
//     or reason phrase, a malformed HTTP-version.
package http1

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ErrShortHead reports that b does not yet hold a complete HTTP head: the
// caller should buffer more bytes and call again (house style: short input is
// a sentinel, never a panic).
var ErrShortHead = errors.New("http1: incomplete HTTP head")

// ErrHeadTooLarge reports an HTTP head longer than the limit given to
// ParseRequestHead or ParseResponseHead, or with more than 1000 header fields.
var ErrHeadTooLarge = errors.New("http1: HTTP head too large")

// HeadError describes a malformed HTTP/1.x head (RFC 9112 §2–§5).
type HeadError struct {
	Offset int    // byte offset in the input where the problem was found
	Reason string // what is wrong, citing the RFC where useful
}

func (e *HeadError) Error() string {
	return fmt.Sprintf("http1: malformed HTTP head at byte %d: %s", e.Offset, e.Reason)
}

const (
	headDefaultLimit = 64 << 10 // default head size limit in bytes
	headMaxFields    = 1000     // most header fields accepted in one head
)

// HeaderField is one header line as it appeared (RFC 9112 §5): the name in
// its original case, the value with leading and trailing OWS trimmed.
type HeaderField struct{ Name, Value string }

// Header is the ordered list of header fields of one HTTP message, duplicates
// kept (RFC 9110 §5.2, §5.3).
type Header []HeaderField

// EqualFold reports whether a and b are equal under ASCII case folding:
// only A-Z and a-z fold. HTTP's names and tokens compare this way (RFC
// 9110 §5.1, §5.6.2; RFC 6455 §4.2.1 "treated as an ASCII
// case-insensitive value"); strings.EqualFold also folds Unicode, to which
// a Kelvin sign is a "k" and a long s an "s", which no server need accept.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if x, y := a[i], b[i]; x != y {
			if l := x | 0x20; l != y|0x20 || l < 'a' || l > 'z' {
				return false
			}
		}
	}
	return true
}

// LowerASCII returns s with A-Z mapped to a-z and every other byte as it
// is (s itself when it has no upper-case letter): strings.ToLower maps a
// Kelvin sign to "k".
func LowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Get returns the first value of the field called name, compared
// case-insensitively (RFC 9110 §5.1), and whether there is one.
func (h Header) Get(name string) (string, bool) {
	for _, f := range h {
		if EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// Values returns every value of the field called name, in order.
func (h Header) Values(name string) []string { return h.AppendValues(nil, name) }

// AppendValues appends every value of the field called name to dst: with
// a dst on the caller's stack, looking a field up does not allocate.
func (h Header) AppendValues(dst []string, name string) []string {
	for _, f := range h {
		if EqualFold(f.Name, name) {
			dst = append(dst, f.Value)
		}
	}
	return dst
}

// Count returns how many fields are called name.
func (h Header) Count(name string) int {
	n := 0
	for _, f := range h {
		if EqualFold(f.Name, name) {
			n++
		}
	}
	return n
}

// HasToken reports whether any value of the field called name, read as a
// comma-separated list (RFC 9110 §5.6.1), has an element equal to token,
// case-insensitively and with OWS trimmed: "Connection: keep-alive, Upgrade"
// has the token "upgrade" (RFC 6455 §4.1 item 6, §4.2.1 item 4).
func (h Header) HasToken(name, token string) bool {
	for _, f := range h {
		if !EqualFold(f.Name, name) {
			continue
		}
		v := f.Value
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			if EqualFold(TrimOWS(elem), token) {
				return true
			}
		}
	}
	return false
}

// RequestHead is a parsed HTTP/1.x request line and header section (RFC 9112
// §3, §5). Its strings share one copy of the head bytes; they do not borrow b.
type RequestHead struct {
	Method, Target, Proto  string // Proto e.g. "HTTP/1.1"
	ProtoMajor, ProtoMinor int
	Header                 Header
	// ObsFold is set when a field value was continued on the next line
	// (obs-fold, RFC 9112 §5.2); such lines are joined with a single SP.
	ObsFold bool
}

// ResponseHead is a parsed HTTP/1.x status line and header section (RFC 9112
// §4, §5). Its strings share one copy of the head bytes; they do not borrow b.
type ResponseHead struct {
	Proto                  string
	ProtoMajor, ProtoMinor int
	Status                 int
	Reason                 string
	Header                 Header
	// ObsFold is set when a field value was continued on the next line
	// (obs-fold, RFC 9112 §5.2); such lines are joined with a single SP.
	ObsFold bool
}

// HeadEnd returns the length of the HTTP head at the start of b, through the
// empty line that ends it (CRLF or bare LF line endings, RFC 9112 §2.2), or -1
// when b holds no complete head yet. Empty lines before the first line are
// part of the head and do not end it (see ParseRequestHead).
//
// from lets a caller that buffers a stream resume the search instead of
// rescanning: pass 0 the first time and, after a result of -1, pass len(b) of
// that call (or anything smaller) the next time, b having grown by appending.
// Only the 2 bytes before from are looked at again, so feeding a head one byte
// at a time costs linear time overall. A negative from means 0; a from past
// len(b) finds nothing.
func HeadEnd(b []byte, from int) int {
	i := from - 2
	if i < 0 {
		i = 0
	}
	for i < len(b) {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j // b[i] == '\n'
		k := i + 1
		if k < len(b) && b[k] == '\r' {
			k++
		}
		if k >= len(b) {
			return -1
		}
		if b[k] == '\n' && !headLineEmptyBefore(b, i) {
			return k + 1
		}
		i++
	}
	return -1
}

// headLineEmptyBefore reports whether the line ending with the LF at b[i] is
// empty (nothing, or a lone CR, since the previous LF or the start of b).
func headLineEmptyBefore(b []byte, i int) bool {
	if i == 0 || b[i-1] == '\n' {
		return true
	}
	return b[i-1] == '\r' && (i == 1 || b[i-2] == '\n')
}

// ParseRequestHead parses one HTTP/1.x request head (request line, RFC 9112
// §3, and header section, §5) from the start of b. It returns the head and the
// number of bytes consumed, through the empty line that ends the head.
//
// If b does not yet hold a complete head it returns (nil, 0, ErrShortHead).
// If the head is longer than limit bytes (limit <= 0 means 64 KiB), or has
// more than 1000 header fields, it returns (nil, 0, ErrHeadTooLarge) without
// allocating, as soon as that is certain (even before the head is complete);
// only the first limit bytes of b are examined. Malformed input
// returns a *HeadError for the first problem together with the head as far as
// it could be read (lines in error are left out) and the full consumed length,
// so the caller can report it and continue after it.
//
// ParseRequestHead scans b from the start on every call; a caller that feeds a
// growing buffer should wait for HeadEnd(b, from) >= 0 (or len(b) >= limit)
// before calling it, to keep total work linear.
func ParseRequestHead(b []byte, limit int) (*RequestHead, int, error) {
	return parseRequest(b, limit, false)
}

// ParseRequest parses a request head that HeadEnd delimited: head is
// b[:HeadEnd(b, from)], a complete head, so it is not scanned for its end
// again. Limits and errors are as for ParseRequestHead; it never returns
// ErrShortHead. The head read ends at the first empty line of head.
func ParseRequest(head []byte, limit int) (*RequestHead, error) {
	h, _, err := parseRequest(head, limit, true)
	return h, err
}

// parseRequest is ParseRequestHead; complete says that b is one whole head,
// as HeadEnd found it, not to be scanned for its end again.
func parseRequest(b []byte, limit int, complete bool) (*RequestHead, int, error) {
	var p headParser
	if err := p.start(b, limit, complete); err != nil {
		return nil, 0, err
	}
	h := &RequestHead{}
	p.parseRequestLine(h)
	h.Header, h.ObsFold = p.parseFields()
	return h, p.end, p.error()
}

// ParseResponseHead parses one HTTP/1.x response head (status line, RFC 9112
// §4, and header section, §5) from the start of b. Results, limits and errors
// are as for ParseRequestHead.
func ParseResponseHead(b []byte, limit int) (*ResponseHead, int, error) {
	return parseResponse(b, limit, false)
}

// ParseResponse parses a response head that HeadEnd delimited, as
// ParseRequest parses a request head.
func ParseResponse(head []byte, limit int) (*ResponseHead, error) {
	h, _, err := parseResponse(head, limit, true)
	return h, err
}

// parseResponse is ParseResponseHead; complete as for parseRequest.
func parseResponse(b []byte, limit int, complete bool) (*ResponseHead, int, error) {
	var p headParser
	if err := p.start(b, limit, complete); err != nil {
		return nil, 0, err
	}
	h := &ResponseHead{}
	p.parseStatusLine(h)
	h.Header, h.ObsFold = p.parseFields()
	return h, p.end, p.error()
}

// headParser walks the lines of one complete head held in s.
type headParser struct {
	s      string // the head, b[:end] copied once; all results slice it
	pos    int    // offset of the next line
	end    int    // len(s): bytes consumed
	fields int    // upper bound on header fields, for the slice capacity
	err    *HeadError
}

// start is init, or initHead when b is known to be a complete head.
func (p *headParser) start(b []byte, limit int, complete bool) error {
	if complete {
		return p.initHead(b, limit)
	}
	return p.init(b, limit)
}

// error returns the first problem found, or nil.
func (p *headParser) error() error {
	if p.err != nil {
		return p.err
	}
	return nil
}

// init finds the head in b, applies the limits and copies the head into one
// string; the start line is next.
func (p *headParser) init(b []byte, limit int) error {
	if limit <= 0 {
		limit = headDefaultLimit
	}
	w := b
	if len(w) > limit {
		w = w[:limit]
	}
	end := HeadEnd(w, 0)
	if end < 0 {
		// With more than 1000 complete field lines already there the head
		// is too large however it ends: say so now, not after the limit.
		if len(b) >= limit || bytes.Count(w, []byte{'\n'}) > headMaxFields+1 && headCountFields(w) > headMaxFields {
			return ErrHeadTooLarge
		}
		return ErrShortHead
	}
	return p.initHead(b[:end], limit)
}

// initHead is init for a complete head.
func (p *headParser) initHead(head []byte, limit int) error {
	if limit <= 0 {
		limit = headDefaultLimit
	}
	if len(head) > limit {
		return ErrHeadTooLarge
	}
	end := len(head)
	// Every field takes at least one line, and the start line and the final
	// empty line take two more: the LF count bounds the fields from above.
	fields := bytes.Count(head, []byte{'\n'}) - 2
	if fields > headMaxFields {
		fields = headCountFields(head)
		if fields > headMaxFields {
			return ErrHeadTooLarge
		}
	}
	if fields < 0 {
		fields = 0
	}
	*p = headParser{s: string(head), end: end, fields: fields}
	p.skipEmptyLines()
	return nil
}

// headCountFields counts the field lines of a head, complete or not: complete
// lines after the start line that are neither empty nor obs-fold
// continuations. It stops counting once there are more than headMaxFields.
func headCountFields(head []byte) int {
	n, line := 0, 0
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n')
		if i < 0 {
			break
		}
		l := head[:i]
		head = head[i+1:]
		if len(l) > 0 && l[len(l)-1] == '\r' {
			l = l[:len(l)-1]
		}
		if len(l) == 0 {
			if line == 0 {
				continue // empty lines before the start line
			}
			break
		}
		line++
		if line > 1 && l[0] != ' ' && l[0] != '\t' {
			if n++; n > headMaxFields {
				break
			}
		}
	}
	return n
}

// fail records the first problem found.
func (p *headParser) fail(off int, format string, args ...any) {
	if p.err == nil {
		p.err = &HeadError{Offset: off, Reason: fmt.Sprintf(format, args...)}
	}
}

// skipEmptyLines skips empty lines before the start line (RFC 9112 §2.2).
// HeadEnd guarantees a non-empty line follows.
func (p *headParser) skipEmptyLines() {
	for p.pos < p.end {
		switch {
		case p.s[p.pos] == '\n':
			p.pos++
		case p.s[p.pos] == '\r' && p.pos+1 < p.end && p.s[p.pos+1] == '\n':
			p.pos += 2
		default:
			return
		}
	}
}

// nextLine returns the next line without its CRLF or LF and its offset.
// HeadEnd guarantees every line of the head ends with LF.
func (p *headParser) nextLine() (string, int) {
	off := p.pos
	i := strings.IndexByte(p.s[off:], '\n')
	if i < 0 { // not reached: the head ends with an empty line
		p.pos = p.end
		return "", off
	}
	p.pos = off + i + 1
	line := p.s[off : off+i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, off
}

// parseRequestLine parses request-line = method SP request-target SP
// HTTP-version (RFC 9112 §3), strictly: single SP separators.
func (p *headParser) parseRequestLine(h *RequestHead) {
	line, off := p.nextLine()
	method, rest, ok := strings.Cut(line, " ")
	if !ok {
		p.fail(off, "request line %q has no SP after the method (RFC 9112 §3)", headClip(line))
		return
	}
	if i := headBadTokenByte(method); i >= 0 {
		if method == "" {
			p.fail(off, "empty method in request line (RFC 9112 §3)")
		} else {
			p.fail(off+i, "invalid byte %q in method (RFC 9112 §3.1)", method[i])
		}
		return
	}
	h.Method = method
	toff := off + len(method) + 1
	target, proto, ok := strings.Cut(rest, " ")
	if !ok {
		p.fail(toff, "request line has no HTTP-version (RFC 9112 §3; HTTP/0.9 is not supported)")
		return
	}
	if target == "" {
		p.fail(toff, "empty request-target (RFC 9112 §3.2)")
		return
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f {
			p.fail(toff+i, "invalid byte %q in request-target (RFC 9112 §3.2)", c)
			return
		}
	}
	h.Target = target
	voff := toff + len(target) + 1
	major, minor, ok := headParseVersion(proto)
	if !ok {
		p.fail(voff, "malformed HTTP-version %q (RFC 9112 §2.3)", headClip(proto))
		return
	}
	h.Proto, h.ProtoMajor, h.ProtoMinor = proto, major, minor
}

// parseStatusLine parses status-line = HTTP-version SP status-code SP
// [reason-phrase] (RFC 9112 §4). Leniently, like Go's net/http client, extra
// SP before the status code and a missing SP after it are accepted.
func (p *headParser) parseStatusLine(h *ResponseHead) {
	line, off := p.nextLine()
	proto, rest, ok := strings.Cut(line, " ")
	major, minor, vok := headParseVersion(proto)
	if !vok {
		p.fail(off, "malformed HTTP-version %q in status line (RFC 9112 §2.3, §4)", headClip(proto))
		return
	}
	h.Proto, h.ProtoMajor, h.ProtoMinor = proto, major, minor
	if !ok {
		p.fail(off+len(proto), "status line has no status code (RFC 9112 §4)")
		return
	}
	coff := off + len(proto) + 1
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
		coff++
	}
	if len(rest) < 3 || !headIsDigit(rest[0]) || !headIsDigit(rest[1]) || !headIsDigit(rest[2]) ||
		(len(rest) > 3 && rest[3] != ' ') {
		p.fail(coff, "status code %q is not 3 digits (RFC 9112 §4)", headClip(rest))
		return
	}
	h.Status = int(rest[0]-'0')*100 + int(rest[1]-'0')*10 + int(rest[2]-'0')
	if len(rest) <= 4 {
		return
	}
	reason := rest[4:]
	for i := 0; i < len(reason); i++ {
		if c := reason[i]; headIsCTL(c) && c != '\t' {
			p.fail(coff+4+i, "invalid byte %q in reason-phrase (RFC 9112 §4)", c)
			return
		}
	}
	h.Reason = reason
}

// parseFields parses the field lines up to the empty line (RFC 9112 §5).
// A line in error is recorded and left out; parsing goes on. obs-fold
// continuations (RFC 9112 §5.2) are joined to the field before them with a
// single SP, in one pass so that many of them cost linear time; if one is in
// error, that whole field is left out.
func (p *headParser) parseFields() (Header, bool) {
	var hdr Header
	if p.fields > 0 {
		hdr = make(Header, 0, p.fields)
	}
	folded := false
	sawField := false // whether a field line, good or bad, came before
	for p.pos < p.end {
		line, off := p.nextLine()
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// A continuation of a field line in error, or of nothing.
			if !sawField {
				p.fail(off, "first field line begins with whitespace (RFC 9112 §2.2, §5.2)")
			}
			sawField = true
			continue
		}
		sawField = true
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			p.fail(off, "field line %q has no colon (RFC 9112 §5)", headClip(line))
			continue
		}
		if name == "" {
			p.fail(off, "empty field name (RFC 9110 §5.1)")
			continue
		}
		if i := headBadTokenByte(name); i >= 0 {
			switch c := name[i]; {
			case c == ' ' || c == '\t':
				p.fail(off+i, "whitespace in or after field name %q (RFC 9112 §5.1)", headClip(name))
			default:
				p.fail(off+i, "invalid byte %q in field name (RFC 9110 §5.1)", c)
			}
			continue
		}
		voff := off + len(name) + 1 + headLeadingOWS(value)
		value = TrimOWS(value)
		if i := headBadValueByte(value); i >= 0 {
			p.fail(voff+i, "invalid byte %q in value of %q (RFC 9110 §5.5)", value[i], headClip(name))
			continue
		}
		if p.atFold() {
			var joined bool
			if value, ok, joined = p.joinFolds(value); !ok {
				continue
			}
			folded = folded || joined
		}
		hdr = append(hdr, HeaderField{Name: name, Value: value})
	}
	if len(hdr) == 0 {
		hdr = nil // however many lines were counted for its capacity
	}
	return hdr, folded
}

// atFold reports whether the next line is an obs-fold continuation.
func (p *headParser) atFold() bool {
	return p.pos < p.end && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t')
}

// joinFolds consumes the obs-fold continuation lines that follow a field
// line and returns value with each continuation's content appended after one
// SP (RFC 9112 §5.2). ok is false if a continuation holds a byte not allowed
// in a field value; joined reports whether any continuation was joined.
func (p *headParser) joinFolds(value string) (_ string, ok, joined bool) {
	var sb strings.Builder
	sb.WriteString(value)
	ok = true
	for p.atFold() {
		line, off := p.nextLine()
		if !ok {
			continue
		}
		v := TrimOWS(line)
		if i := headBadValueByte(v); i >= 0 {
			p.fail(off+headLeadingOWS(line)+i, "invalid byte %q in obs-fold continuation (RFC 9110 §5.5)", v[i])
			ok = false
			continue
		}
		if v != "" {
			if sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(v)
		}
	}
	if !ok {
		return "", false, false
	}
	return sb.String(), true, true
}

// headParseVersion parses HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112
// §2.3); "HTTP" is case-sensitive.
func headParseVersion(v string) (major, minor int, ok bool) {
	if len(v) != len("HTTP/1.1") || v[:5] != "HTTP/" || v[6] != '.' ||
		!headIsDigit(v[5]) || !headIsDigit(v[7]) {
		return 0, 0, false
	}
	return int(v[5] - '0'), int(v[7] - '0'), true
}

// MaxMethodLen bounds a plausible method name (the longest registered one,
// UPDATEREDIRECTREF, has 17 letters).
const MaxMethodLen = 24

// LooksLikeRequest reports whether b, possibly a short prefix, could be
// the start of an HTTP/1.x request line (RFC 9112 §3): a method token, SP, a
// request-target, SP, "HTTP/1." DIGIT and the line end, or any prefix of
// that, after optional empty lines (§2.2). An empty b could be anything and
// gives true. It reads b once and allocates nothing; an HTTP/2 connection
// preface ("PRI * HTTP/2.0") gives false.
func LooksLikeRequest(b []byte) bool {
	start, i, ok := scanMethod(b)
	if !ok {
		return false
	}
	if i == len(b) {
		return true
	}
	if i == start || b[i] != ' ' {
		return false
	}
	i++
	// request-target
	start = i
	for i < len(b) && b[i] > ' ' && b[i] != 0x7f {
		i++
	}
	if i == len(b) {
		return true
	}
	if i == start || b[i] != ' ' {
		return false
	}
	i++
	// HTTP-version and line end
	const tail = "HTTP/1.?\r\n"
	for k := 0; k < len(tail) && i < len(b); k, i = k+1, i+1 {
		c := b[i]
		switch {
		case tail[k] == '?':
			if !headIsDigit(c) {
				return false
			}
		case tail[k] == '\r':
			if c == '\n' {
				return true
			}
			if c != '\r' {
				return false
			}
		case c != tail[k]:
			return false
		}
	}
	return true
}

// InMethod reports whether b could be the start of a request line that
// stops before the SP after its method (RFC 9112 §3): optional empty lines
// (§2.2), then token characters, no more than MaxMethodLen of them. Such
// bytes do not tell a request from what only begins like one (a response's
// "HTTP/", the HTTP/2 preface's "PRI *"), though LooksLikeRequest accepts
// them. An empty b gives true.
func InMethod(b []byte) bool {
	_, i, ok := scanMethod(b)
	return ok && i == len(b)
}

// scanMethod reads the start of a request line: optional empty lines
// (RFC 9112 §2.2), then a method's token characters, which end at end. ok
// is false for a bare CR and for a method longer than MaxMethodLen (no
// method is that long: a run of token bytes is not HTTP).
func scanMethod(b []byte) (start, end int, ok bool) {
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		if b[i] == '\r' && i+1 < len(b) && b[i+1] != '\n' {
			return 0, 0, false
		}
		i++
	}
	start = i
	for i < len(b) && IsTchar(b[i]) {
		i++
	}
	return start, i, i-start <= MaxMethodLen
}

// headTchar marks the tchar bytes of RFC 9110 §5.6.2.
var headTchar = [256]bool{
	'!': true, '#': true, '$': true, '%': true, '&': true, '\'': true, '*': true,
	'+': true, '-': true, '.': true, '^': true, '_': true, '`': true, '|': true, '~': true,
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true,
	'A': true, 'B': true, 'C': true, 'D': true, 'E': true, 'F': true, 'G': true, 'H': true, 'I': true,
	'J': true, 'K': true, 'L': true, 'M': true, 'N': true, 'O': true, 'P': true, 'Q': true, 'R': true,
	'S': true, 'T': true, 'U': true, 'V': true, 'W': true, 'X': true, 'Y': true, 'Z': true,
	'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true, 'g': true, 'h': true, 'i': true,
	'j': true, 'k': true, 'l': true, 'm': true, 'n': true, 'o': true, 'p': true, 'q': true, 'r': true,
	's': true, 't': true, 'u': true, 'v': true, 'w': true, 'x': true, 'y': true, 'z': true,
}

// IsTchar reports whether c is a tchar, a byte of a token (RFC 9110 §5.6.2).
func IsTchar(c byte) bool { return headTchar[c] }

func headIsDigit(c byte) bool { return '0' <= c && c <= '9' }

// Digits reports whether s is 1*DIGIT (RFC 9110 §8.6's Content-Length,
// §15's status code): strconv also takes a sign, which HTTP does not.
func Digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !headIsDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// headIsCTL reports the control bytes of RFC 5234 B.1 (0x00–0x1F, 0x7F).
func headIsCTL(c byte) bool { return c < 0x20 || c == 0x7f }

// IsToken reports whether s is a token (RFC 9110 §5.6.2): 1*tchar.
func IsToken(s string) bool { return s != "" && headBadTokenByte(s) < 0 }

// headBadTokenByte returns the index of the first byte of s that is not a
// tchar, 0 for an empty s, or -1 if s is a token.
func headBadTokenByte(s string) int {
	if s == "" {
		return 0
	}
	for i := 0; i < len(s); i++ {
		if !headTchar[s[i]] {
			return i
		}
	}
	return -1
}

// headBadValueByte returns the index of the first byte of s not allowed in a
// field value (RFC 9110 §5.5: VCHAR, obs-text, SP, HTAB), or -1.
func headBadValueByte(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; headIsCTL(c) && c != '\t' {
			return i
		}
	}
	return -1
}

// headLeadingOWS returns how many SP and HTAB bytes s starts with.
func headLeadingOWS(s string) int {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// TrimOWS trims OWS (SP and HTAB, RFC 9110 §5.6.3) from both ends of s.
func TrimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// headClip shortens s for an error message, so a hostile 64 KiB line does not
// make a 64 KiB error.
func headClip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
