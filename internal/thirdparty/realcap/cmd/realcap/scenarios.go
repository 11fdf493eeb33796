package main

// scenarios lists every capture realcap records, in the order it records them.
func scenarios() []scenario {
	return []scenario{
		gorillaBasic(),
		gorillaServerClose(),
		coderTakeover(),
		gorillaNoContext(),
		serverNoContext(),
		clientNoContext(),
		windowBits(),
		pythonFragmented(),
		nodeFragmented(),
		ipv6(),
	}
}

const (
	C = client
	S = server
)

func gorillaBasic() scenario {
	return scenario{
		name: "gorilla-basic",
		description: "gorilla client and server, no extension: ASCII and multi-byte UTF-8 text, binary, " +
			"empty messages, pings with and without payload and the pongs gorilla answers, 7-bit/16-bit/64-bit " +
			"payload lengths (125, 126, 200, 70000), fragmented messages from both sides, client closes 1000 \"bye\"",
		network: "tcp4", format: "pcap",
		server: peerSpec{impl: "gorilla", writeBufferSize: 256},
		client: peerSpec{impl: "gorilla"},
		steps: []step{
			text(C, "Hello, wscap!").nframes(1),
			text(S, "Hello, client!").nframes(1),
			text(C, "héllo wörld — Привет — 你好 — 🌍").nframes(1),
			text(S, "ünïcödé ✓ 𝄞 ∑").nframes(1),
			binmsg(C, []byte{0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff}).nframes(1),
			binmsg(S, pattern(16)).nframes(1),
			text(C, "").nframes(1).why("empty text message"),
			binmsg(S, []byte{}).nframes(1).why("empty binary message"),
			ping(C, "ping-from-client"),
			pongAuto(S, "ping-from-client"),
			text(C, lorem(125)).nframes(1).why("125 bytes: largest 7-bit payload length"),
			text(C, lorem(126)).nframes(1).why("126 bytes: smallest 16-bit payload length"),
			text(C, lorem(200)).nframes(1),
			text(S, lorem(200)).nframes(1),
			ping(S, ""),
			binmsg(S, pattern(70000)).nframes(1).why("64-bit payload length, unmasked"),
			pongAuto(C, ""),
			text(C, lorem(5000)).nframes(2).why("client WriteBufferSize 4096: frames of 4096 and 904 bytes, masked"),
			text(S, lorem(700)).frags300().nframes(3).why("server NextWriter, three Writes, WriteBufferSize 256: frames of 256, 256, 188 bytes"),
			closeMsg(C, 1000, "bye"),
			closeAuto(S, 1000, "").why("gorilla's default close handler echoes the code without the reason"),
		},
	}
}

// frags300 splits a message into Writes of 300 bytes.
func (s step) frags300() step {
	var sizes []int
	for n := len(s.data); n > 300; n -= 300 {
		sizes = append(sizes, 300)
	}
	return s.fragments(sizes...)
}

func gorillaServerClose() scenario {
	return scenario{
		name: "gorilla-server-close",
		description: "gorilla client and server, no extension: a 65536-byte binary message from the client " +
			"(64-bit length, masked, one frame), then the server closes 1001 \"going away\"",
		network: "tcp4", format: "pcap",
		server: peerSpec{impl: "gorilla"},
		client: peerSpec{impl: "gorilla", writeBufferSize: 65536},
		steps: []step{
			text(C, "hi server").nframes(1),
			text(S, "hi client").nframes(1),
			binmsg(C, pattern(65536)).nframes(1).why("65536 bytes: smallest 64-bit payload length"),
			text(S, "received 65536 bytes").nframes(1),
			closeMsg(S, 1001, "going away"),
			closeAuto(C, 1001, ""),
		},
	}
}

func coderTakeover() scenario {
	yes := true
	return scenario{
		name: "coder-takeover",
		description: "coder client and server with CompressionContextTakeover: permessage-deflate with context " +
			"takeover both ways; repeated messages shrink to a few bytes; messages under coder's 128-byte threshold " +
			"go uncompressed (RSV1 clear) right after compressed ones; an incompressible message (stored blocks); " +
			"messages written through coder's Writer in two Writes (compressed, fragmented)",
		network: "tcp4", format: "pcap",
		server: peerSpec{impl: "coder", compress: true},
		client: peerSpec{impl: "coder", compress: true},
		steps: []step{
			text(C, doc(1)).comp(yes).nframes(1),
			text(S, doc(2)).comp(yes).nframes(1),
			text(C, doc(1)).comp(yes).nframes(1).why("same as the first client message: back-references into the previous message"),
			text(S, doc(2)).comp(yes).nframes(1).why("same as the first server message"),
			text(C, "ok").comp(false).nframes(1).why("under the 128-byte threshold: sent uncompressed"),
			text(S, "ok").comp(false).nframes(1).why("under the 128-byte threshold: sent uncompressed"),
			binmsg(C, pattern(1000)).comp(yes).nframes(1),
			text(C, doc(3)).comp(yes).nframes(1),
			binmsg(S, noise(300, 1)).comp(yes).nframes(1).why("incompressible: deflate stored block"),
			text(S, doc(4)).comp(yes).fragments(150).nframes(3).why(coderWriterNote),
			text(C, doc(5)).comp(yes).fragments(150).nframes(3).why(coderWriterNote),
			text(C, "done?").comp(false).nframes(1),
			closeMsg(C, 1000, "done"),
			closeAuto(S, 1000, "done").why("coder echoes code and reason"),
		},
	}
}

// coderWriterNote explains the frames of a message written through coder's Writer: the
// compressor's flush goes out as one frame less the 4 bytes coder holds back to trim the
// sync-flush tail, the sync marker then pushes those 4 bytes out as a second frame, and
// Close ends the message with an empty final frame.
const coderWriterNote = "coder Writer, two Writes: compressed, in 3 frames (the deflate output less its last 4 " +
	"bytes; those 4 bytes; an empty final frame)"

func gorillaNoContext() scenario {
	yes := true
	return scenario{
		name: "gorilla-nocontext",
		description: "gorilla client and server with EnableCompression: permessage-deflate with " +
			"server_no_context_takeover and client_no_context_takeover; repeated messages compress to the same size; " +
			"the server's WriteBufferSize 128 splits its compressed messages into several frames; one client message " +
			"sent with EnableWriteCompression(false) after compressed ones; compressed empty messages",
		network: "tcp4", format: "pcap",
		server: peerSpec{impl: "gorilla", compress: true, writeBufferSize: 128},
		client: peerSpec{impl: "gorilla", compress: true},
		steps: []step{
			text(C, doc(1)).comp(yes).nframes(1),
			text(S, doc(2)).comp(yes).why("compressed, fragmented by the 128-byte write buffer"),
			text(C, doc(1)).comp(yes).nframes(1).why("no context takeover: same size as the first"),
			text(S, doc(2)).comp(yes).why("no context takeover: same frames as the first"),
			text(C, doc(1)).sendComp(false).comp(false).nframes(1).why("EnableWriteCompression(false): uncompressed after compressed"),
			binmsg(S, noise(600, 2)).comp(yes).why("incompressible: a stored block; gorilla writes compressor output larger than twice its buffer as a frame of its own, so 2 frames"),
			text(C, "").comp(yes).nframes(1).why("compressed empty message"),
			binmsg(S, []byte{}).comp(yes).nframes(1).why("compressed empty message"),
			text(C, "short").comp(yes).nframes(1),
			closeMsg(C, 1000, "bye"),
			closeAuto(S, 1000, ""),
		},
	}
}

func serverNoContext() scenario {
	yes := true
	return scenario{
		name: "server-nocontext",
		description: "Python websockets server negotiating server_no_context_takeover only, coder client " +
			"(CompressionContextTakeover): server messages are compressed afresh each time, client messages " +
			"use context takeover; coder sends messages under 128 bytes uncompressed, Python compresses every message",
		network: "tcp4", format: "pcap",
		server: peerSpec{impl: "python", deflate: map[string]any{"server_no_context_takeover": true}},
		client: peerSpec{impl: "coder", compress: true},
		steps: []step{
			text(C, doc(1)).comp(yes).nframes(1),
			text(S, doc(2)).comp(yes).nframes(1),
			text(C, doc(1)).comp(yes).nframes(1).why("context takeover client->server: tiny"),
			text(S, doc(2)).comp(yes).nframes(1).why("server_no_context_takeover: same size as the first"),
			text(C, "short").comp(false).nframes(1).why("under coder's threshold"),
			text(S, "short").comp(yes).nframes(1).why("websockets compresses every message"),
			binmsg(C, pattern(2000)).comp(yes).nframes(1),
			binmsg(S, pattern(2000)).comp(yes).nframes(1),
			ping(S, "hello coder"),
			text(S, "after ping").comp(yes).nframes(1),
			pongAuto(C, "hello coder"),
			text(C, doc(3)).comp(yes).nframes(1),
			closeMsg(C, 1000, "client done"),
			closeAuto(S, 1000, "client done").why("websockets echoes the close payload"),
		},
	}
}

func clientNoContext() scenario {
	yes := true
	return scenario{
		name: "client-nocontext",
		description: "Python websockets server negotiating client_no_context_takeover only, node ws client " +
			"(threshold 64): client messages are compressed afresh each time and those under 64 bytes or sent with " +
			"compress:false go uncompressed; server messages use context takeover; the server closes",
		network: "tcp4", format: "pcap",
		server: peerSpec{impl: "python", deflate: map[string]any{"client_no_context_takeover": true}},
		client: peerSpec{impl: "node", deflate: map[string]any{"threshold": 64}},
		steps: []step{
			text(C, doc(1)).comp(yes).nframes(1),
			text(S, doc(2)).comp(yes).nframes(1),
			text(C, doc(1)).comp(yes).nframes(1).why("client_no_context_takeover: same size as the first"),
			text(S, doc(2)).comp(yes).nframes(1).why("context takeover server->client: tiny"),
			text(C, "tiny").comp(false).nframes(1).why("under ws's threshold: uncompressed after compressed"),
			binmsg(C, pattern(300)).comp(yes).nframes(1),
			ping(S, "srv-ping"),
			text(S, "after ping").comp(yes).nframes(1),
			pongAuto(C, "srv-ping"),
			text(C, doc(3)).sendComp(false).comp(false).nframes(1).why("compress:false"),
			text(C, doc(4)).comp(yes).nframes(1),
			closeMsg(S, 1000, "server done"),
			closeAuto(C, 1000, "server done").why("ws echoes code and reason"),
		},
	}
}

func windowBits() scenario {
	yes := true
	return scenario{
		name: "window-bits",
		description: "node ws server with serverMaxWindowBits 10 and clientMaxWindowBits 9, Python websockets " +
			"client offering client_max_window_bits: server_max_window_bits=10, client_max_window_bits=9, context " +
			"takeover both ways; texts whose second half repeats the first at a distance of 1400 bytes, beyond both windows",
		network: "tcp4", format: "pcap",
		server: peerSpec{impl: "node", deflate: map[string]any{"serverMaxWindowBits": 10, "clientMaxWindowBits": 9}},
		client: peerSpec{impl: "python", deflate: map[string]any{"client_max_window_bits": true}},
		steps: []step{
			text(C, doc(1)).comp(yes).nframes(1),
			text(S, doc(2)).comp(yes).nframes(1),
			text(C, farRepeat(1400, 3)).comp(yes).nframes(1),
			text(S, farRepeat(1400, 4)).comp(yes).nframes(1),
			text(C, doc(1)).comp(yes).nframes(1).why("repeat of a message 2.8 KB back: outside the 512-byte window"),
			text(S, doc(2)).comp(yes).nframes(1).why("repeat of a message 2.8 KB back: outside the 1024-byte window"),
			text(C, doc(1)).comp(yes).nframes(1).why("immediate repeat: inside the window"),
			closeMsg(C, 1000, "window test done"),
			closeAuto(S, 1000, "window test done"),
		},
	}
}

func pythonFragmented() scenario {
	yes := true
	return scenario{
		name: "python-fragmented",
		description: "Python websockets on both sides, permessage-deflate with context takeover both ways: " +
			"fragmented compressed messages (an iterable per message: one frame per item, each compressed with a " +
			"sync flush so that non-final frames end in 00 00 ff ff, then an empty final continuation frame whose " +
			"compressed payload is the single byte 00), including an empty middle fragment; the server closes",
		network: "tcp4", format: "pcap",
		server: peerSpec{impl: "python", deflate: map[string]any{}},
		client: peerSpec{impl: "python", deflate: map[string]any{}},
		steps: []step{
			text(C, "The first fragment, the second fragment, and the last one.").fragments(20, 21).comp(yes).nframes(4),
			text(S, doc(1)).fragments(100, 100).comp(yes).nframes(4),
			binmsg(C, pattern(300)).fragments(100, 100).comp(yes).nframes(4),
			text(S, doc(1)).comp(yes).nframes(1).why("repeat of the fragmented message: context spans its fragments"),
			text(C, "startend").fragments(5, 0).comp(yes).nframes(4).why("middle fragment empty"),
			text(C, "caf\u00e9 \u00fcber \u2713").fragments(5, 6).comp(yes).nframes(4),
			ping(S, "py-ping"),
			binmsg(S, noise(200, 5)).fragments(50, 50, 50).comp(yes).nframes(5),
			pongAuto(C, "py-ping"),
			text(C, "last").comp(yes).nframes(1),
			closeMsg(S, 1000, "fragments done"),
			closeAuto(C, 1000, "fragments done"),
		},
	}
}

func nodeFragmented() scenario {
	yes := true
	return scenario{
		name: "node-fragmented",
		description: "node ws on both sides, permessage-deflate with context takeover both ways: a compressed " +
			"text fragmented inside a multi-byte UTF-8 character, an uncompressed fragmented text with a ping " +
			"between its fragments, a compressed fragmented text with a ping between fragments, compressed " +
			"fragmented binary from the server",
		network: "tcp4", format: "pcap",
		server: peerSpec{impl: "node", deflate: map[string]any{}},
		client: peerSpec{impl: "node", deflate: map[string]any{}},
		steps: []step{
			text(C, "Grüße aus Köln 🌍!").fragments(3, 17).comp(yes).nframes(3).why("fragments split inside 'ü' and inside '🌍'"),
			text(S, doc(1)).comp(yes).nframes(1),
			text(C, "uncompressed fragmented text").fragments(13, 11).sendComp(false).comp(false).nframes(3).ctrlAfter(0, "ping", "mid-message"),
			pongAuto(S, "mid-message"),
			binmsg(S, append(noise(200, 6), pattern(200)...)).fragments(200).comp(yes).nframes(2),
			text(C, "compressed and interleaved").fragments(11, 4).comp(yes).nframes(3).ctrlAfter(1, "ping", "ping-2"),
			pongAuto(S, "ping-2"),
			text(S, doc(1)).comp(yes).nframes(1),
			closeMsg(C, 1000, "bye"),
			closeAuto(S, 1000, "bye"),
		},
	}
}

func ipv6() scenario {
	return scenario{
		name: "ipv6",
		description: "gorilla client and server over [::1], no extension, written as pcapng: text, binary, a " +
			"server ping, and a close frame without status code (empty payload) from the client",
		network: "tcp6", format: "pcapng",
		server: peerSpec{impl: "gorilla"},
		client: peerSpec{impl: "gorilla"},
		steps: []step{
			text(C, "hello over IPv6").nframes(1),
			text(S, "hello from [::1]").nframes(1),
			binmsg(C, pattern(300)).nframes(1),
			ping(S, "v6"),
			text(S, "after ping").nframes(1),
			pongAuto(C, "v6"),
			text(C, "bye").nframes(1),
			closeMsg(C, 1005, "").why("empty close payload: no status code"),
			closeAuto(S, 1005, ""),
		},
	}
}
