package http2

import "fmt"

// FrameType is the type of an HTTP/2 frame (RFC 9113 §6).
type FrameType uint8

// The frame types of RFC 9113 §6.
const (
	FrameData         FrameType = 0x0
	FrameHeaders      FrameType = 0x1
	FramePriority     FrameType = 0x2
	FrameRSTStream    FrameType = 0x3
	FrameSettings     FrameType = 0x4
	FramePushPromise  FrameType = 0x5
	FramePing         FrameType = 0x6
	FrameGoAway       FrameType = 0x7
	FrameWindowUpdate FrameType = 0x8
	FrameContinuation FrameType = 0x9
)

var frameNames = [...]string{
	FrameData: "DATA", FrameHeaders: "HEADERS", FramePriority: "PRIORITY", FrameRSTStream: "RST_STREAM",
	FrameSettings: "SETTINGS", FramePushPromise: "PUSH_PROMISE", FramePing: "PING", FrameGoAway: "GOAWAY",
	FrameWindowUpdate: "WINDOW_UPDATE", FrameContinuation: "CONTINUATION",
}

func (t FrameType) String() string {
	if int(t) < len(frameNames) {
		return frameNames[t]
	}
	return fmt.Sprintf("frame(0x%x)", uint8(t))
}

// Frame flags (RFC 9113 §6).
const (
	FlagEndStream  = 0x1 // DATA, HEADERS
	FlagAck        = 0x1 // SETTINGS, PING
	FlagEndHeaders = 0x4 // HEADERS, PUSH_PROMISE, CONTINUATION
	FlagPadded     = 0x8 // DATA, HEADERS, PUSH_PROMISE
	FlagPriority   = 0x20
)

// ErrCode is an error code of RST_STREAM and GOAWAY (RFC 9113 §7).
type ErrCode uint32

var errNames = [...]string{
	"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
	"STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
	"CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
}

func (e ErrCode) String() string {
	if int(e) < len(errNames) {
		return errNames[e]
	}
	return fmt.Sprintf("error(0x%x)", uint32(e))
}

// SettingID names a SETTINGS parameter (RFC 9113 §6.5.2, RFC 8441 §3).
type SettingID uint16

// The settings wscap reads.
const (
	SettingHeaderTableSize       SettingID = 0x1
	SettingEnablePush            SettingID = 0x2
	SettingMaxConcurrentStreams  SettingID = 0x3
	SettingInitialWindowSize     SettingID = 0x4
	SettingMaxFrameSize          SettingID = 0x5
	SettingMaxHeaderListSize     SettingID = 0x6
	SettingEnableConnectProtocol SettingID = 0x8
)

var settingNames = [...]string{
	SettingHeaderTableSize: "HEADER_TABLE_SIZE", SettingEnablePush: "ENABLE_PUSH",
	SettingMaxConcurrentStreams: "MAX_CONCURRENT_STREAMS", SettingInitialWindowSize: "INITIAL_WINDOW_SIZE",
	SettingMaxFrameSize: "MAX_FRAME_SIZE", SettingMaxHeaderListSize: "MAX_HEADER_LIST_SIZE",
	SettingEnableConnectProtocol: "ENABLE_CONNECT_PROTOCOL",
}

func (s SettingID) String() string {
	if int(s) < len(settingNames) && settingNames[s] != "" {
		return "SETTINGS_" + settingNames[s]
	}
	return fmt.Sprintf("setting(0x%x)", uint16(s))
}

// Problem says what kind of trouble a Conn reports to its Handler.
type Problem uint8

const (
	// ProblemMalformed: a frame breaks a rule of RFC 9113 §4-§6 (its
	// length, padding, stream, settings, the CONTINUATION sequence).
	ProblemMalformed Problem = iota + 1
	// ProblemStreamState: a frame the state of its stream does not allow
	// (RFC 9113 §5.1): DATA after END_STREAM, on a closed or idle stream.
	ProblemStreamState
	// ProblemHPACK: a header block does not decode (RFC 7541); the
	// direction's header compression state is lost.
	ProblemHPACK
	// ProblemHeaderList: a decoded header list is larger than the Conn
	// keeps (an HPACK bomb?); the fields past it are dropped.
	ProblemHeaderList
	// ProblemLoss: bytes were not captured and the frame layer lost its
	// place or a header block (the direction's header compression state
	// is lost), or resumed after skipping bytes.
	ProblemLoss
	// ProblemConnect: the extended CONNECT setting misused (RFC 8441 §3).
	ProblemConnect
)

var problemNames = [...]string{ProblemMalformed: "malformed", ProblemStreamState: "stream-state", ProblemHPACK: "hpack", ProblemHeaderList: "header-list", ProblemLoss: "loss", ProblemConnect: "connect"}

func (p Problem) String() string {
	if int(p) < len(problemNames) && problemNames[p] != "" {
		return problemNames[p]
	}
	return fmt.Sprintf("problem(%d)", uint8(p))
}
