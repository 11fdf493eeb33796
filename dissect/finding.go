package dissect

import (
	"fmt"
	"slices"

	"github.com/wscap/wscap/dissect/app"
)

// Severity ranks findings. The meaning of each level is fixed so that tools
// built on wscap can rely on it.
type Severity uint8

const (
	// SeverityInfo is an observation that blames no peer: handshake not captured,
	// capture ended while the connection was open, a rejected upgrade, loss.
	SeverityInfo Severity = iota
	// SeverityWarning is allowed by the letter but suspicious, or a broken SHOULD.
	SeverityWarning
	// SeverityError means a peer broke a MUST or MUST NOT of RFC 6455 or RFC 7692,
	// or of HTTP/1.1 (RFC 9112) in its opening handshake.
	SeverityError
)

var severityNames = [...]string{SeverityInfo: "info", SeverityWarning: "warning", SeverityError: "error"}

func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

// Code is the stable kebab-case identifier of a rule. Codes never change
// meaning; new ones may be added.
type Code string

// Rule describes one Code: its severity, the RFC section it checks and a
// one-line summary. Rules lists them all.
type Rule struct {
	Code     Code
	Severity Severity
	RFC      string // "6455 §5.3"; empty for observations about the capture
	Summary  string
	// Blame says that a finding of the rule names the peer at fault (its
	// From); observations about the capture and wscap's caps blame none.
	Blame bool
}

// The codes wscap reports. README.md documents them from Rules (a test keeps
// the two in step).
const (
	// Opening handshake (RFC 6455 §4).
	CodeMethodNotGet          Code = "handshake-method-not-get"
	CodeHTTPVersion           Code = "handshake-http-version"
	CodeHostMissing           Code = "handshake-host-missing"
	CodeUpgradeMissing        Code = "handshake-upgrade-missing"
	CodeConnectionMissing     Code = "handshake-connection-missing"
	CodeKeyMissing            Code = "handshake-key-missing"
	CodeKeyDuplicate          Code = "handshake-key-duplicate"
	CodeKeyInvalid            Code = "handshake-key-invalid"
	CodeVersionMissing        Code = "handshake-version-missing"
	CodeVersionUnsupported    Code = "handshake-version-unsupported"
	CodeMalformedHandshake    Code = "handshake-malformed"
	CodeHandshakeTooLarge     Code = "handshake-too-large"
	CodeObsFold               Code = "handshake-obs-fold"
	CodeRejected              Code = "handshake-rejected"
	CodeResponseUpgrade       Code = "handshake-response-upgrade"
	CodeResponseConnection    Code = "handshake-response-connection"
	CodeAcceptMissing         Code = "handshake-accept-missing"
	CodeAcceptDuplicate       Code = "handshake-accept-duplicate"
	CodeAcceptMismatch        Code = "handshake-accept-mismatch"
	CodeSubprotocolNotOffered Code = "handshake-subprotocol-not-offered"
	CodeExtensionNotOffered   Code = "handshake-extension-not-offered"
	CodeExtensionMalformed    Code = "handshake-extension-malformed"
	CodeDataBefore101         Code = "handshake-client-data-before-101"
	CodeNoResponse            Code = "handshake-no-response"
	CodeNotCaptured           Code = "handshake-not-captured"

	// Frames (RFC 6455 §5).
	CodeRSVNotNegotiated      Code = "frame-rsv-not-negotiated"
	CodeRSV1Continuation      Code = "frame-rsv1-on-continuation"
	CodeRSV1Control           Code = "frame-rsv1-on-control"
	CodeReservedOpcode        Code = "frame-reserved-opcode"
	CodeClientUnmasked        Code = "frame-client-unmasked"
	CodeServerMasked          Code = "frame-server-masked"
	CodeControlTooLong        Code = "frame-control-too-long"
	CodeControlFragmented     Code = "frame-control-fragmented"
	CodeContinuationNoMessage Code = "frame-continuation-without-message"
	CodeMessageInterleaved    Code = "frame-data-inside-message"
	CodeLengthNotMinimal      Code = "frame-length-not-minimal"
	CodeLengthMSB             Code = "frame-length-msb-set"
	CodeFrameAfterClose       Code = "frame-after-close"

	// Messages and closing (RFC 6455 §5.5.1, §7, §8.1).
	CodeInvalidUTF8         Code = "message-text-invalid-utf8"
	CodeClosePayloadOneByte Code = "close-payload-one-byte"
	CodeCloseCodeInvalid    Code = "close-code-invalid"
	CodeCloseReasonUTF8     Code = "close-reason-invalid-utf8"
	CodeCloseUnanswered     Code = "close-unanswered"
	CodeCloseMissing        Code = "close-handshake-missing"
	CodeOpenAtEnd           Code = "connection-open-at-end"

	// permessage-deflate (RFC 7692).
	CodeDeflateParam      Code = "deflate-param-invalid"
	CodeDeflateNotOffered Code = "deflate-param-not-offered"
	CodeInflateError      Code = "deflate-inflate-error"
	CodeContextLost       Code = "deflate-context-lost"

	// The capture and TCP.
	CodeGap             Code = "tcp-gap"
	CodeOverlapConflict Code = "tcp-overlap-conflict"
	CodeResync          Code = "frame-resync"
	CodeTruncated       Code = "packet-truncated"
	CodeTimeBackwards   Code = "capture-time-backwards"

	// TLS (RFC 8446, RFC 5246), for connections decrypted with a key log.
	CodeTLSNoKey         Code = "tls-no-key"
	CodeTLSUnsupported   Code = "tls-unsupported"
	CodeTLSUnauthentic   Code = "tls-record-unauthentic"
	CodeTLSMalformed     Code = "tls-malformed"
	CodeTLSRenegotiation Code = "tls-renegotiation"
	CodeTLSAlert         Code = "tls-alert"
	CodeTLSEarlyRefused  Code = "tls-early-data-refused"
	CodeTLSMidstream     Code = "tls-midstream"

	// WebSocket over HTTP/2 (RFC 8441, RFC 9113, RFC 7541).
	CodeH2ConnectNotEnabled Code = "h2-connect-not-enabled"
	CodeH2ConnectSetting    Code = "h2-connect-setting"
	CodeH2PseudoHeader      Code = "h2-pseudo-header"
	CodeH2HeaderMalformed   Code = "h2-header-malformed"
	CodeH2KeyAccept         Code = "h2-key-or-accept"
	CodeH2ResetMidFrame     Code = "h2-reset-mid-frame"
	CodeH2Malformed         Code = "h2-frame-malformed"
	CodeH2StreamState       Code = "h2-stream-state"
	CodeH2HPACK             Code = "h2-hpack"
	CodeH2Lost              Code = "h2-lost"
	CodeH2HeaderList        Code = "cap-h2-header-list"

	// Application protocols over WebSocket (dissect/app).
	CodeAppMQTT         Code = app.CodeMQTTMalformed
	CodeAppSTOMP        Code = app.CodeSTOMPMalformed
	CodeAppSocketIO     Code = app.CodeSocketIOMalformed
	CodeAppSIOAttach    Code = app.CodeSocketIOAttach
	CodeAppGraphQL      Code = app.CodeGraphQLMalformed
	CodeAppGraphQLID    Code = app.CodeGraphQLUnknownID
	CodeAppJSONRPC      Code = app.CodeJSONRPCMalformed
	CodeAppJSONRPCID    Code = app.CodeJSONRPCUnknownID
	CodeAppBufferCapped Code = app.CodeBufferCapped

	// Caps (resource limits of wscap itself).
	CodeMessageCapped  Code = "cap-message"
	CodeFrameCapped    Code = "cap-frame"
	CodeAssemblyCapped Code = "cap-assembling"
	CodeConnsCapped    Code = "cap-conns"
	CodeBufferCapped   Code = "cap-buffered"
	CodeInflateCapped  Code = "cap-inflate"
)

// Rules returns every rule wscap checks, in documentation order (a copy:
// the table itself does not change).
func Rules() []Rule { return slices.Clone(rules) }

// rules is the table of every code wscap reports, in documentation order.
var rules = []Rule{
	{CodeMethodNotGet, SeverityError, "6455 §4.1", "the handshake request method is not GET", true},
	{CodeHTTPVersion, SeverityError, "6455 §4.1", "the handshake uses an HTTP version below 1.1", true},
	{CodeHostMissing, SeverityError, "6455 §4.1", "the handshake request has no Host header", true},
	{CodeUpgradeMissing, SeverityError, "6455 §4.1", "the request's Upgrade header lacks the token websocket", true},
	{CodeConnectionMissing, SeverityError, "6455 §4.1", "the request's Connection header lacks the token Upgrade", true},
	{CodeKeyMissing, SeverityError, "6455 §4.1", "the request has no Sec-WebSocket-Key", true},
	{CodeKeyDuplicate, SeverityError, "6455 §4.1", "the request has more than one Sec-WebSocket-Key", true},
	{CodeKeyInvalid, SeverityError, "6455 §4.1", "Sec-WebSocket-Key is not the base64 encoding of 16 bytes", true},
	{CodeVersionMissing, SeverityError, "6455 §4.1", "the request has no Sec-WebSocket-Version", true},
	{CodeVersionUnsupported, SeverityError, "6455 §4.1", "Sec-WebSocket-Version is not 13", true},
	{CodeMalformedHandshake, SeverityError, "6455 §4.1", "a handshake message is not valid HTTP/1.1", true},
	{CodeObsFold, SeverityError, "9112 §5.2", "a handshake header field value is continued on the next line (obsolete line folding)", true},
	{CodeHandshakeTooLarge, SeverityWarning, "", "a handshake head exceeds wscap's header limit; the connection is not decoded", false},
	{CodeRejected, SeverityInfo, "6455 §4.2.2", "the server answered the upgrade with a status other than 101", false},
	{CodeResponseUpgrade, SeverityError, "6455 §4.2.2", "the 101 response's Upgrade header lacks the token websocket", true},
	{CodeResponseConnection, SeverityError, "6455 §4.2.2", "the 101 response's Connection header lacks the token Upgrade", true},
	{CodeAcceptMissing, SeverityError, "6455 §4.2.2", "the 101 response has no Sec-WebSocket-Accept", true},
	{CodeAcceptDuplicate, SeverityError, "6455 §4.2.2", "the 101 response has more than one Sec-WebSocket-Accept", true},
	{CodeAcceptMismatch, SeverityError, "6455 §4.2.2", "Sec-WebSocket-Accept is not base64(SHA-1(key + GUID))", true},
	{CodeSubprotocolNotOffered, SeverityError, "6455 §4.1", "the server chose a subprotocol the client did not offer", true},
	{CodeExtensionNotOffered, SeverityError, "6455 §9.1", "the server accepted an extension the client did not offer", true},
	{CodeExtensionMalformed, SeverityError, "6455 §9.1", "a Sec-WebSocket-Extensions header does not follow the grammar", true},
	{CodeDataBefore101, SeverityError, "6455 §4.1", "the client sent data before the server's 101 response arrived", true},
	{CodeNoResponse, SeverityInfo, "", "the connection ended before the server answered the upgrade request", false},
	{CodeNotCaptured, SeverityInfo, "", "frames were found on a connection whose handshake was not captured", false},

	{CodeRSVNotNegotiated, SeverityError, "6455 §5.2", "an RSV bit is set that no negotiated extension defines", true},
	{CodeRSV1Continuation, SeverityError, "7692 §6.1", "RSV1 is set on a continuation frame", true},
	{CodeRSV1Control, SeverityError, "7692 §6.1", "RSV1 is set on a control frame", true},
	{CodeReservedOpcode, SeverityError, "6455 §5.2", "a frame uses a reserved opcode", true},
	{CodeClientUnmasked, SeverityError, "6455 §5.3", "a client frame is not masked", true},
	{CodeServerMasked, SeverityError, "6455 §5.1", "a server frame is masked", true},
	{CodeControlTooLong, SeverityError, "6455 §5.5", "a control frame carries more than 125 bytes", true},
	{CodeControlFragmented, SeverityError, "6455 §5.5", "a control frame has FIN clear", true},
	{CodeContinuationNoMessage, SeverityError, "6455 §5.4", "a continuation frame arrived with no message open", true},
	{CodeMessageInterleaved, SeverityError, "6455 §5.4", "a text or binary frame arrived while a fragmented message was open", true},
	{CodeLengthNotMinimal, SeverityError, "6455 §5.2", "the payload length does not use the minimal encoding", true},
	{CodeLengthMSB, SeverityError, "6455 §5.2", "a 64-bit payload length has its most significant bit set", true},
	{CodeFrameAfterClose, SeverityError, "6455 §5.5.1", "a frame was sent after that peer's Close frame", true},

	{CodeInvalidUTF8, SeverityError, "6455 §8.1", "a text message is not valid UTF-8", true},
	{CodeClosePayloadOneByte, SeverityError, "6455 §5.5.1", "a Close frame carries exactly one byte", true},
	{CodeCloseCodeInvalid, SeverityError, "6455 §7.4", "a Close status code that must not be sent", true},
	{CodeCloseReasonUTF8, SeverityError, "6455 §5.5.1", "a Close reason is not valid UTF-8", true},
	{CodeCloseUnanswered, SeverityWarning, "6455 §5.5.1", "one peer sent Close and the connection ended without the other's Close", true},
	{CodeCloseMissing, SeverityWarning, "6455 §7.1.1", "the TCP connection ended (FIN/RST) without a closing handshake", false},
	{CodeOpenAtEnd, SeverityInfo, "", "the capture ended while the connection was open", false},

	{CodeDeflateParam, SeverityError, "7692 §7.1", "a permessage-deflate parameter is malformed or repeated", true},
	{CodeDeflateNotOffered, SeverityError, "7692 §5", "the server accepted a permessage-deflate parameter the client did not offer", true},
	{CodeInflateError, SeverityError, "7692 §7.2.2", "a compressed message does not inflate", true},
	{CodeContextLost, SeverityInfo, "7692 §7.2.2", "compressed messages after a loss cannot be inflated (context takeover)", false},

	{CodeGap, SeverityInfo, "", "bytes of a TCP stream were not captured", false},
	{CodeOverlapConflict, SeverityWarning, "", "retransmitted TCP data differs from the first copy (possible evasion); the first copy is kept", true},
	{CodeResync, SeverityInfo, "", "frame parsing lost its place and resumed at a plausible frame header", false},
	{CodeTruncated, SeverityInfo, "", "a packet was cut by the capture's snapshot length", false},
	{CodeTLSNoKey, SeverityInfo, "", "the key log holds no secret for this TLS connection; it is not decrypted", false},
	{CodeTLSUnsupported, SeverityInfo, "", "the TLS version or cipher suite is one wscap does not decrypt", false},
	{CodeTLSUnauthentic, SeverityWarning, "8446 §5.2", "a TLS record does not authenticate (wrong key, corrupted or forged); it is skipped", false},
	{CodeTLSMalformed, SeverityWarning, "8446 §5.1", "a TLS record or handshake message does not parse", true},
	{CodeTLSRenegotiation, SeverityInfo, "5246 §7.4.1", "a TLS 1.2 renegotiation, whose new keys wscap does not follow", false},
	{CodeTLSAlert, SeverityInfo, "8446 §6", "a peer sent a TLS alert other than close_notify", false},
	{CodeTLSEarlyRefused, SeverityInfo, "8446 §4.2.10", "the server refused the client's 0-RTT early data; it is not part of the stream", false},
	{CodeTLSMidstream, SeverityInfo, "8446 §7.1", "the capture starts after the TLS handshake; a TLS 1.3 traffic secret of the key log was found that opens the records (which one, and what was tried, is in the detail)", false},
	{CodeH2ConnectNotEnabled, SeverityError, "8441 §4", "the client sent an extended CONNECT (:protocol) before the server enabled it with SETTINGS_ENABLE_CONNECT_PROTOCOL", true},
	{CodeH2ConnectSetting, SeverityError, "8441 §3", "SETTINGS_ENABLE_CONNECT_PROTOCOL with a value other than 0 or 1, or withdrawn after 1", true},
	{CodeH2PseudoHeader, SeverityError, "9113 §8.3", "an extended CONNECT request or its response lacks, repeats or misplaces a pseudo-header field (:method, :protocol, :scheme, :path, :authority, :status)", true},
	{CodeH2HeaderMalformed, SeverityError, "9113 §8.2", "a header field HTTP/2 forbids: an upper-case name, or a connection-specific field (Connection, Upgrade, Keep-Alive, Transfer-Encoding)", true},
	{CodeH2KeyAccept, SeverityWarning, "8441 §5", "Sec-WebSocket-Key or Sec-WebSocket-Accept on an HTTP/2 stream, where they have no place", true},
	{CodeH2ResetMidFrame, SeverityWarning, "8441 §5", "a WebSocket's stream was reset (RST_STREAM) in the middle of a WebSocket frame", false},
	{CodeH2Malformed, SeverityError, "9113 §4.1", "an HTTP/2 frame breaks the frame layer's rules (length, padding, stream, settings, CONTINUATION sequence, preface)", true},
	{CodeH2StreamState, SeverityError, "9113 §5.1", "an HTTP/2 frame the state of its stream does not allow: DATA after END_STREAM, on a closed or never-opened stream", true},
	{CodeH2HPACK, SeverityError, "7541 §2.3", "an HTTP/2 header block does not decode; the sender's later header blocks are not decoded", true},
	{CodeH2Lost, SeverityInfo, "", "bytes of an HTTP/2 connection were not captured: its header compression state is lost, or frames were skipped to find the next frame header", false},
	{CodeAppMQTT, SeverityError, "MQTT 5.0 §1.5, §2, §3", "an MQTT control packet breaks the specification (remaining length, fixed-header flags, a field past the packet, invalid UTF-8, an unknown property)", true},
	{CodeAppSTOMP, SeverityError, "STOMP 1.2 Frames", "a STOMP frame does not parse (unknown command, a header line without a colon, an undefined escape, a body not ended by NUL)", true},
	{CodeAppSocketIO, SeverityError, "socket.io-protocol v5", "a message on a Socket.IO connection is not an Engine.IO/Socket.IO packet, or a binary message no packet announced", true},
	{CodeAppSIOAttach, SeverityWarning, "socket.io-protocol v5", "a Socket.IO binary packet's attachments did not all come before the next packet", true},
	{CodeAppGraphQL, SeverityError, "graphql-ws PROTOCOL.md", "a GraphQL over WebSocket message is not a JSON object with a known type, or lacks its id", true},
	{CodeAppGraphQLID, SeverityWarning, "graphql-ws PROTOCOL.md", "a GraphQL next, error or complete for an operation id that no subscribe started", true},
	{CodeAppJSONRPC, SeverityError, "JSON-RPC 2.0 §4, §5", "a message on a JSON-RPC connection is not a JSON-RPC 2.0 request, response or batch", true},
	{CodeAppJSONRPCID, SeverityWarning, "JSON-RPC 2.0 §5", "a JSON-RPC response to an id that no request seen asked for", true},
	{CodeTimeBackwards, SeverityInfo, "", "a packet's timestamp is earlier than the connection's packet before it; that step counts as no time", false},

	{CodeMessageCapped, SeverityWarning, "", "a message exceeds --max-message; its kept payload is truncated", false},
	{CodeFrameCapped, SeverityWarning, "", "a frame header announces more than --max-frame bytes; treated as garbage", false},
	{CodeAssemblyCapped, SeverityWarning, "", "messages being assembled hold more than --max-assembling bytes in total; this one is truncated", false},
	{CodeConnsCapped, SeverityWarning, "", "more than --max-conns connections were open: the quietest one was ended to make room", false},
	{CodeBufferCapped, SeverityWarning, "", "out-of-order TCP data exceeds --max-buffered; the bytes missing before it are treated as lost", false},
	{CodeH2HeaderList, SeverityWarning, "", "an HTTP/2 header list decodes to more than wscap keeps (an HPACK bomb?); the fields past it are dropped", false},
	{CodeAppBufferCapped, SeverityWarning, "", "an unfinished MQTT packet or STOMP frame is longer than --app-max-buffer; that direction's application decoding stops", false},
	{CodeInflateCapped, SeverityWarning, "", "compressed messages inflate past --max-inflate-ratio (per connection) or --max-inflate-total (per run): a decompression bomb? Later ones are not inflated", false},
}

var ruleIndex = func() map[Code]*Rule {
	m := make(map[Code]*Rule, len(rules))
	for i := range rules {
		m[rules[i].Code] = &rules[i]
	}
	return m
}()

// RuleFor returns the rule of code c.
func RuleFor(c Code) (Rule, bool) {
	r, ok := ruleIndex[c]
	if !ok {
		return Rule{}, false
	}
	return *r, true
}

// Finding is one rule broken, or one observation, at one place of a
// connection. Detail is written for a person ("client frame not masked").
type Finding struct {
	Code     Code
	Severity Severity
	RFC      string
	From     Direction // the peer at fault; meaningful only when Blame is set
	Blame    bool
	Detail   string
}
