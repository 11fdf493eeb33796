// Package realcap describes the real WebSocket captures under testdata/real and checks them.
//
// The captures are made by the program in cmd/realcap (it needs root, tcpdump, Python's
// websockets package and node's ws package, so it never runs under go test). Next to each
// capture NAME.pcap or NAME.pcapng lies NAME.json, an Expectation: what each program sent,
// in order. The test in this package re-reads every capture with an independent parser
// (TCP reassembly, RFC 6455 framing, RFC 7692 inflation) and checks that the capture and
// its expectation agree.
package realcap

// Expectation is the content of testdata/real/NAME.json: how a capture was made and every
// message each side sent.
type Expectation struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Capture is the capture's file name, relative to the JSON file.
	Capture string `json:"capture"`
	// CapturedWith names the capturing tool, e.g. "tcpdump 4.99.3, libpcap 1.10.3".
	CapturedWith string `json:"captured_with"`
	// Network is "tcp4" (127.0.0.1) or "tcp6" ([::1]).
	Network string `json:"network"`
	Server  Peer   `json:"server"`
	Client  Peer   `json:"client"`
	// Extensions is the Sec-WebSocket-Extensions value of the server's 101 response as
	// the client read it ("" when none was negotiated).
	Extensions string    `json:"extensions"`
	Messages   []Message `json:"messages"`
}

// Peer names the WebSocket implementation on one side of a capture.
type Peer struct {
	Impl    string `json:"impl"`
	Version string `json:"version"`
	// Runtime is the language runtime the implementation ran on, e.g. "go1.26.8".
	Runtime string `json:"runtime"`
	// Options is a free-form description of the options that side was configured with.
	Options string `json:"options,omitempty"`
}

// Message is one WebSocket message (RFC 6455 §5.6) or control frame (§5.5) as its sender
// sent it. Messages are listed in script order; within one direction that is wire order.
// A control frame sent between the fragments of a data message is listed before that
// message, since the message completes only with its last fragment.
type Message struct {
	From   string `json:"from"`   // "client" or "server"
	Opcode string `json:"opcode"` // "text", "binary", "ping", "pong", "close"
	// DataB64 is the (uncompressed) application data; for close frames the whole close
	// payload (status code and reason), empty when the close frame carried no status.
	DataB64 string `json:"data_b64"`
	// CloseCode is the close status; 1005 (RFC 6455 §7.1.5) when the payload was empty.
	CloseCode   int    `json:"close_code,omitempty"`
	CloseReason string `json:"close_reason,omitempty"`
	// Compressed is whether the sender was expected to set RSV1 (RFC 7692 §6) on the
	// message, present for every data message.
	Compressed *bool `json:"compressed,omitempty"`
	// Frames is the expected number of frames of a data message, present only where the
	// sending library's framing is known in advance.
	Frames int `json:"frames,omitempty"`
	// Auto marks frames the library sent by itself (the pong answering a ping, the close
	// answering a close) rather than by the scripted program.
	Auto bool   `json:"auto,omitempty"`
	Note string `json:"note,omitempty"`
}
