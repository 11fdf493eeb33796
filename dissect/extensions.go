package dissect

// This file parses the list headers of the WebSocket opening handshake:
// Sec-WebSocket-Extensions (RFC 6455 §9.1) and token lists such as
// Sec-WebSocket-Protocol (RFC 6455 §11.3.4).
//
// Grammar (RFC 6455 §9.1, list rule of RFC 9110 §5.6.1):
//
//	Sec-WebSocket-Extensions = 1#extension
//	extension       = extension-token *( ";" extension-param )
//	extension-token = registered-token = token
//	extension-param = token [ "=" (token | quoted-string) ]
//
// OWS is accepted around ",", ";" and "=" (RFC 6455 uses the implied *LWS of
// RFC 2616 §2.1); empty list elements are skipped (RFC 9110 §5.6.1). Names keep
// their case.

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wscap/wscap/dissect/http1"
)

// ExtensionParam is one parameter of an extension (RFC 6455 §9.1):
// Name alone, or Name=Value with Value unquoted.
type ExtensionParam struct {
	Name, Value string
	HasValue    bool
}

// Extension is one element of a Sec-WebSocket-Extensions list (RFC 6455
// §9.1): an extension token and its parameters in order, duplicates kept.
type Extension struct {
	Name   string
	Params []ExtensionParam
}

// Param returns the first parameter called name (case-insensitive, as HTTP
// tokens are) and whether there is one.
func (e Extension) Param(name string) (ExtensionParam, bool) {
	for _, p := range e.Params {
		if http1.EqualFold(p.Name, name) {
			return p, true
		}
	}
	return ExtensionParam{}, false
}

// String returns the extension in canonical form (RFC 6455 §9.1): parameters
// separated by "; ", a value written bare when it is a token and as a
// quoted-string otherwise, e.g. "permessage-deflate; client_max_window_bits=10".
func (e Extension) String() string {
	b, _ := e.AppendText(nil)
	return string(b)
}

// AppendText appends the element as String writes it (encoding.TextAppender).
func (e Extension) AppendText(b []byte) ([]byte, error) {
	b = append(b, e.Name...)
	for _, p := range e.Params {
		b = append(append(b, "; "...), p.Name...)
		if !p.HasValue {
			continue
		}
		b = append(b, '=')
		if http1.IsToken(p.Value) {
			b = append(b, p.Value...)
			continue
		}
		b = append(b, '"')
		for i := 0; i < len(p.Value); i++ {
			if c := p.Value[i]; c == '"' || c == '\\' {
				b = append(b, '\\')
			}
			b = append(b, p.Value[i])
		}
		b = append(b, '"')
	}
	return b, nil
}

// ExtensionError reports one problem in a Sec-WebSocket-Extensions value
// (RFC 6455 §9.1).
type ExtensionError struct {
	Value  int    // index of the value in the slice given to ParseExtensions
	Offset int    // byte offset of the problem in that value
	Text   string // the offending list element, OWS trimmed (long ones clipped)
	Reason string
	// Kept is set when the extension was still returned: its syntax is
	// right but a quoted parameter value is not a token after unescaping,
	// which RFC 6455 §9.1 requires. Otherwise the element was left out.
	Kept bool
}

func (e *ExtensionError) Error() string {
	return fmt.Sprintf("dissect: Sec-WebSocket-Extensions: %s in %q (value %d, byte %d)",
		e.Reason, e.Text, e.Value, e.Offset)
}

// ParseExtensions parses the values of the Sec-WebSocket-Extensions header
// fields (RFC 6455 §9.1), in order, into one list. values may hold one string
// per field line or all of them joined with commas: the extensions are the
// same (only an unterminated quoted-string, which runs to the end of its
// value, can tell them apart).
//
// A list element with a syntax error is left out and reported; parsing goes on
// with the next element, so the result holds every element that parsed
// cleanly. A quoted parameter value that is not a token after unescaping is
// reported but its extension is kept (ExtensionError.Kept). The error is nil,
// a single *ExtensionError, or an errors.Join of several in input order
// (errors.As finds the first). Values that hold only OWS and commas give no
// extensions and no error; whether an empty header is acceptable is for the
// caller to judge.
func ParseExtensions(values []string) ([]Extension, error) {
	var exts []Extension
	var errs []error
	for vi, v := range values {
		p := extParser{s: v, value: vi}
		for {
			ext, ok, more := p.next()
			if ok {
				exts = append(exts, ext)
			}
			if !more {
				break
			}
		}
		errs = append(errs, p.errs...)
	}
	switch len(errs) {
	case 0:
		return exts, nil
	case 1:
		return exts, errs[0]
	}
	return exts, errors.Join(errs...)
}

// extParser reads the elements of one Sec-WebSocket-Extensions value.
type extParser struct {
	s     string
	pos   int
	value int
	errs  []error
}

// next parses the next list element. ok reports whether ext is an extension
// to return; more reports whether the value may hold more elements.
func (p *extParser) next() (ext Extension, ok, more bool) {
	// Skip OWS and empty elements.
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c != ' ' && c != '\t' && c != ',' {
			break
		}
		p.pos++
	}
	if p.pos >= len(p.s) {
		return Extension{}, false, false
	}
	start := p.pos
	name := p.token()
	if name == "" {
		return p.bad(start, "expected an extension token")
	}
	ext.Name = name
	var soft *ExtensionError
	for {
		p.skipOWS()
		if p.pos >= len(p.s) || p.s[p.pos] == ',' {
			break
		}
		if p.s[p.pos] != ';' {
			return p.bad(start, "unexpected %q after %q", p.s[p.pos], extClip(p.s[start:p.pos]))
		}
		p.pos++
		p.skipOWS()
		var prm ExtensionParam
		if prm.Name = p.token(); prm.Name == "" {
			return p.bad(start, "expected a parameter name after ';'")
		}
		p.skipOWS()
		if p.pos < len(p.s) && p.s[p.pos] == '=' {
			p.pos++
			p.skipOWS()
			prm.HasValue = true
			if p.pos < len(p.s) && p.s[p.pos] == '"' {
				qoff := p.pos
				v, good := p.quoted()
				if !good {
					return p.bad(start, "malformed quoted-string")
				}
				prm.Value = v
				if !http1.IsToken(v) && soft == nil {
					soft = &ExtensionError{
						Value: p.value, Offset: qoff, Kept: true,
						Reason: fmt.Sprintf("quoted value of %q is not a token after unescaping (RFC 6455 §9.1)", prm.Name),
					}
				}
			} else if prm.Value = p.token(); prm.Value == "" {
				return p.bad(start, "expected a token or quoted-string after '=' for %q", prm.Name)
			}
		}
		ext.Params = append(ext.Params, prm)
	}
	if soft != nil {
		soft.Text = extClip(http1.TrimOWS(p.s[start:p.pos]))
		p.errs = append(p.errs, soft)
	}
	return ext, true, p.pos < len(p.s)
}

// bad records a syntax error in the element that starts at start and skips
// to the comma that ends it, outside quoted-strings.
func (p *extParser) bad(start int, format string, args ...any) (Extension, bool, bool) {
	off := p.pos
	end := extElementEnd(p.s, start)
	p.errs = append(p.errs, &ExtensionError{
		Value:  p.value,
		Offset: off,
		Text:   extClip(http1.TrimOWS(p.s[start:end])),
		Reason: fmt.Sprintf(format, args...),
	})
	p.pos = end
	return Extension{}, false, p.pos < len(p.s)
}

// extElementEnd returns the offset of the first ',' at or after start that is
// not inside a quoted-string, or len(s).
func extElementEnd(s string, start int) int {
	inQuote := false
	for i := start; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ',':
			return i
		}
	}
	return len(s)
}

func (p *extParser) skipOWS() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

// token reads 1*tchar (RFC 9110 §5.6.2); "" if there is none.
func (p *extParser) token() string {
	i := p.pos
	for i < len(p.s) && http1.IsTchar(p.s[i]) {
		i++
	}
	t := p.s[p.pos:i]
	p.pos = i
	return t
}

// quoted reads a quoted-string (RFC 9110 §5.6.4) at p.pos and returns its
// unescaped content; it allocates only when there are quoted-pairs.
func (p *extParser) quoted() (string, bool) {
	i := p.pos + 1
	start := i
	escaped := false
	for i < len(p.s) {
		c := p.s[i]
		switch {
		case c == '"':
			v := p.s[start:i]
			p.pos = i + 1
			if escaped {
				v = extUnescape(v)
			}
			return v, true
		case c == '\\':
			if i+1 >= len(p.s) || !extQuotedPairByte(p.s[i+1]) {
				p.pos = i
				return "", false
			}
			escaped = true
			i += 2
		case c == '\t' || c == ' ' || c >= 0x21 && c != 0x7f:
			i++ // qdtext
		default:
			p.pos = i
			return "", false
		}
	}
	p.pos = i
	return "", false
}

// extQuotedPairByte reports the bytes allowed after "\" (RFC 9110 §5.6.4:
// HTAB, SP, VCHAR, obs-text).
func extQuotedPairByte(c byte) bool { return c == '\t' || c == ' ' || c >= 0x21 && c != 0x7f }

// extUnescape removes the backslashes of quoted-pairs from the content of a
// well-formed quoted-string.
func extUnescape(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		sb.WriteByte(s[i])
	}
	return sb.String()
}

// extClip shortens s for an error message, so a hostile 64 KiB header does
// not make a 64 KiB error.
func extClip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// ParseTokenList splits the values of a comma-separated list header (RFC 9110
// §5.6.1), such as Sec-WebSocket-Protocol (RFC 6455 §11.3.4), into elements
// with OWS trimmed, dropping empty ones. Elements are not checked to be
// tokens. It returns nil when there are none.
func ParseTokenList(values []string) []string {
	var out []string
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			if elem = http1.TrimOWS(elem); elem != "" {
				out = append(out, elem)
			}
		}
	}
	return out
}
