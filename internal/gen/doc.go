// Package gen writes deterministic WebSocket captures to use as ground truth
// in tests and benchmarks, together with a Manifest of what it wrote.
//
// A Capture holds scripted connections. Each Conn records steps (WebSocket
// opening handshake (RFC 6455 §4), messages, raw frames, raw bytes, waits,
// teardown); nothing is generated until Capture.Write, which runs every
// connection's steps on a deterministic clock, merges the TCP segments of
// all connections by time (stable: ties keep generation order) and
// serialises them with gopacket (Ethernet, raw IP or Linux SLL; IPv4 or
// IPv6; TCP with correct checksums) into a pcap or pcapng file:
//
//	c := gen.New(gen.Options{Seed: 1, Format: gen.FormatPcapNG})
//	conn := c.Conn(gen.ConnOptions{IPv6: true})
//	conn.Handshake(gen.Handshake{Protocols: []string{"chat"}, Protocol: "chat", Deflate: &gen.Deflate{}})
//	conn.Text(gen.FromClient, "hello")
//	conn.Send(gen.FromServer, gen.Message{Opcode: gen.OpBinary, Size: 70000, Fragments: 3,
//		Controls: []gen.Control{{After: 0, Opcode: gen.OpPing}}})
//	conn.Close(gen.FromClient, 1000, "bye")
//	conn.Close(gen.FromServer, 1000, "bye")
//	conn.Teardown()
//	manifest, err := c.Write(f)
//
// TCP: each connection opens with SYN, SYN-ACK, ACK (unless
// ConnOptions.NoTCPHandshake), carries correct sequence and acknowledgement
// numbers from seeded ISNs (or fixed ones, to force wraparound), cuts each
// write into segments of at most the MSS, and the receiver ACKs every
// second segment and the last (unless NoPureACKs). Writes can be held and
// coalesced (Message.Hold, Conn.Hold, Conn.Push with segment sizes).
//
// Everything random (ISNs, IP IDs, Sec-WebSocket-Key, masking keys, jitter,
// generated payloads) comes from a PCG generator seeded with Options.Seed
// and the connection's ID, so the same program and seed give a
// byte-identical file.
//
// Write streams: connections can be supplied lazily (Capture.AddSource), a
// connection runs one step at a time as the clock reaches it, and only
// packets that another connection could still precede wait in a heap, so
// memory follows the connections open at once rather than the file size.
// A connection with a Transform is generated whole when it starts; the
// transform sees its list of Segments (time, direction, seq, ack, flags,
// payload, step) and may drop, duplicate, reorder or rewrite them before
// serialisation, which is where impairments (loss, reordering, overlap,
// retransmission, …) plug in.
//
// The Manifest lists per connection the endpoints, subprotocol,
// extensions, message counts by direction and opcode and a Digest, an
// order-independent fingerprint of every message's plaintext that an
// analyzer's tests compute from what they decode (see Digest).
//
// permessage-deflate (RFC 7692) is generated per direction with
// compress/flate; see Deflate for how context takeover and max_window_bits
// are honoured. Scenarios (NewScenario) build the captures that
// cmd/wscapgen writes.
package gen
