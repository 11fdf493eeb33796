package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/wscap/wscap/internal/gen"
)

// Impaired captures: the generator writes a WebSocket conversation, a
// transform damages it the way real captures are damaged (loss at chosen
// offsets, reordering, duplication, overlaps with the same and with
// different data, snaplen cuts, mid-stream starts, IP fragments, port
// reuse, sequence wraparound, buffer caps), and each test asserts exactly
// the records wscap reports: every message recovered (direction, opcode,
// length, payload, flags) and every finding (code, peer, the numbers in
// its detail). Each capture is also read with one and two workers: the
// output must not change.

// pat returns n bytes of lowercase words, different per seed. Lowercase
// letters and spaces have RSV2 set when read as a frame header, so a
// payload never passes for one while parsing resynchronises; the spaces
// keep a segment from looking like the start of an HTTP request.
func pat(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte((i*7+int(seed)*3+i/26)%26)
		if i%6 == 5 {
			b[i] = ' '
		}
	}
	return b
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// short renders a payload for comparison: exact, abbreviated with a CRC
// when long.
func short(b []byte) string {
	if len(b) <= 40 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q…[%d %08x]", b[:16], len(b), crc32.ChecksumIEEE(b))
}

// msg is the rendering of a message record: conn, sender, opcode, length
// (payload length after unmasking, also of the bytes lost), frames and
// flags, then the payload kept.
func msg(conn int, from, op string, length, frames int, payload []byte, flags ...string) string {
	s := fmt.Sprintf("#%d %s %s len=%d", conn, from, op, length)
	if frames != 1 {
		s += fmt.Sprintf(" frames=%d", frames)
	}
	for _, f := range flags {
		s += " " + f
	}
	return s + " " + short(payload)
}

// whole is msg for a message of one frame received whole.
func whole(conn int, from, op string, payload []byte) string {
	return msg(conn, from, op, len(payload), 1, payload)
}

func closeMsg(conn int, from string, code int) string {
	return fmt.Sprintf("#%d %s close len=2 code=%d", conn, from, code)
}

var (
	numberRE = regexp.MustCompile(`\d+`)
	peerRE   = regexp.MustCompile(`client|server`)
)

// render turns a JSON Lines record into one comparable line.
func render(r map[string]any) string {
	conn := int(r["conn"].(float64))
	switch r["kind"] {
	case "handshake":
		s := fmt.Sprintf("#%d handshake captured=%v", conn, r["captured"])
		if st, ok := r["status"]; ok {
			s += fmt.Sprintf(" status=%v", st)
		}
		return s
	case "message":
		var flags []string
		for _, f := range []string{"compressed", "truncated", "incomplete", "undecodable"} {
			if r[f] == true {
				flags = append(flags, f)
			}
		}
		length := -1
		if l, ok := r["length"].(float64); ok {
			length = int(l)
		}
		if r["opcode"] == "close" && r["close_code"] != nil {
			return fmt.Sprintf("#%d %s close len=%d code=%v", conn, r["from"], length, r["close_code"])
		}
		var payload []byte
		if s, ok := r["text"].(string); ok {
			payload = []byte(s)
		} else if s, ok := r["data"].(string); ok {
			payload, _ = base64.StdEncoding.DecodeString(s)
		}
		return msg(conn, r["from"].(string), r["opcode"].(string), length, int(r["frames"].(float64)), payload, flags...)
	case "frame":
		payload, _ := base64.StdEncoding.DecodeString(r["data"].(string))
		s := fmt.Sprintf("#%d frame %s %s len=%v", conn, r["from"], r["opcode"], r["length"])
		if r["truncated"] == true {
			s += " truncated"
		}
		return s + " " + short(payload)
	case "finding":
		// The peer at fault, or else the peer the detail names.
		from := "-"
		if f, ok := r["from"].(string); ok {
			from = f
		} else if w := peerRE.FindString(r["detail"].(string)); w != "" {
			from = "~" + w
		}
		return fmt.Sprintf("#%d !%s %s %s", conn, r["code"], from, strings.Join(numberRE.FindAllString(r["detail"].(string), -1), ","))
	case "connection":
		return fmt.Sprintf("#%d end %s", conn, r["end"])
	}
	return fmt.Sprintf("#%d %s", conn, r["kind"])
}

// impairFile writes the capture to a temporary file.
func impairFile(t *testing.T, c *gen.Capture) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := c.Write(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "impaired.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// analyseFile reads path with wscap and returns the rendered records and
// the totals. The output must be the same with one and two workers, and
// the packet counters must add up.
func analyseFile(t *testing.T, path string, args ...string) ([]string, map[string]any) {
	t.Helper()
	base := append([]string{"read", "--format", "jsonl"}, args...)
	out, stderr, code := wscap(t, append(append(base, "--workers", "1"), path)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if out2, _, _ := wscap(t, append(append(base, "--workers", "2"), path)...); out2 != out {
		t.Errorf("two workers differ from one:\n%s", firstDiff(out2, out))
	}
	var lines []string
	var totals map[string]any
	for _, r := range records(t, out) {
		if r["kind"] == "totals" {
			totals = r
			continue
		}
		lines = append(lines, render(r))
	}
	if totals == nil {
		t.Fatal("no totals record")
	}
	p := totals["packets"].(map[string]any)
	sum := 0.0
	for _, k := range []string{"websocket", "other_tcp", "not_tcp", "undecodable", "ip_fragments"} {
		sum += p[k].(float64)
	}
	if sum != p["read"].(float64) {
		t.Errorf("packets %v do not add up", p)
	}
	return lines, totals
}

func checkLines(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("records differ\n got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// conversation scripts the connection most tests impair: a captured
// handshake, then steps 1-6 (see the constants), then a close both ways
// and a TCP teardown.
func conversation(c *gen.Capture, o gen.ConnOptions) {
	conn := c.Conn(o)
	conn.Handshake(gen.Handshake{Path: "/impair"})                                      // step 0
	conn.Text(gen.FromClient, "hello")                                                  // 1
	conn.Text(gen.FromServer, string(pat(1000, 1)))                                     // 2: 4-byte header + 1000
	conn.Send(gen.FromServer, gen.Message{Opcode: gen.OpBinary, Payload: pat(5000, 2)}) // 3: 4 + 5000, 4 segments
	conn.Text(gen.FromServer, string(pat(300, 3)))                                      // 4
	conn.Text(gen.FromClient, "bye")                                                    // 5
	conn.Text(gen.FromServer, "last")                                                   // 6
	conn.Close(gen.FromClient, 1000, "")
	conn.Close(gen.FromServer, 1000, "")
	conn.Teardown()
}

// Steps of conversation.
const (
	stepServerText   = 2
	stepServerBinary = 3
	stepServerText2  = 4
	stepClientBye    = 5
)

// conversationRecords is what wscap reports for an unimpaired conversation.
func conversationRecords() []string {
	return []string{
		"#1 handshake captured=true status=101",
		whole(1, "client", "text", []byte("hello")),
		whole(1, "server", "text", pat(1000, 1)),
		whole(1, "server", "binary", pat(5000, 2)),
		whole(1, "server", "text", pat(300, 3)),
		whole(1, "client", "text", []byte("bye")),
		whole(1, "server", "text", []byte("last")),
		closeMsg(1, "client", 1000),
		closeMsg(1, "server", 1000),
		"#1 end close-handshake",
	}
}

// replace returns lines with the line equal to old replaced by news.
func replace(lines []string, old string, news ...string) []string {
	i := slices.Index(lines, old)
	if i < 0 {
		panic("no line " + old)
	}
	return slices.Concat(lines[:i], news, lines[i+1:])
}

// segmentOf finds the k-th data segment of step in direction d.
func segmentOf(segs []gen.Segment, step int, d gen.Direction, k int) int {
	i := gen.StepSegment(segs, step, d, k)
	if i < 0 {
		panic(fmt.Sprintf("no segment %d of step %d", k, step))
	}
	return i
}

func flip(b []byte) {
	for i := range b {
		b[i] ^= 0x20 // lowercase to uppercase, space to NUL: still text
	}
}

// duplicate sends some segments twice, delay apart.
func duplicate(delay time.Duration) gen.Transform {
	return func(info gen.ConnInfo, segs []gen.Segment) []gen.Segment {
		return gen.DuplicateSegments(delay, segmentOf(segs, 0, gen.FromClient, 0), segmentOf(segs, stepServerText, gen.FromServer, 0),
			segmentOf(segs, stepServerBinary, gen.FromServer, 1), segmentOf(segs, stepServerBinary, gen.FromServer, 3))(info, segs)
	}
}

func TestImpairReordering(t *testing.T) {
	tests := []struct {
		name string
		tr   gen.Transform
		want []string
	}{
		{"none", nil, conversationRecords()},
		{"swap two segments of a message", func(info gen.ConnInfo, segs []gen.Segment) []gen.Segment {
			return gen.Reorder(segmentOf(segs, stepServerBinary, gen.FromServer, 0), segmentOf(segs, stepServerBinary, gen.FromServer, 1))(info, segs)
		}, conversationRecords()},
		{"first segment of a message last", func(info gen.ConnInfo, segs []gen.Segment) []gen.Segment {
			i := segmentOf(segs, stepServerBinary, gen.FromServer, 0)
			return gen.Reorder(i, segmentOf(segs, stepServerBinary, gen.FromServer, 3))(info, segs)
		}, conversationRecords()},
		// A segment captured after the receiver's ACK for it (packets of one
		// flow merged out of order, e.g. tcpdump -i any): the ACK declared
		// its bytes lost, and the late copy is a retransmission of bytes
		// already skipped.
		{"data after its ACK", func(info gen.ConnInfo, segs []gen.Segment) []gen.Segment {
			i := segmentOf(segs, stepServerText, gen.FromServer, 0)
			return gen.Reorder(i, segmentOf(segs, stepServerBinary, gen.FromServer, 1))(info, segs)
		}, replace(conversationRecords(), whole(1, "server", "text", pat(1000, 1)), "#1 !tcp-gap ~server 1004")},
		// The request, the first text and two segments of the binary, sent
		// twice: before the ACK, and after it.
		{"duplicated segments", duplicate(50 * time.Microsecond), conversationRecords()},
		{"duplicated after the ACK", duplicate(5 * time.Millisecond), conversationRecords()},
		{"overlap with the same bytes", gen.Retransmit(stepServerBinary, gen.FromServer, 1000, 3000, 50*time.Microsecond, nil), conversationRecords()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := gen.New(gen.Options{Seed: 11})
			conversation(c, gen.ConnOptions{Transform: tt.tr})
			got, _ := analyseFile(t, impairFile(t, c))
			checkLines(t, got, tt.want)
		})
	}
}

func TestImpairOverlapConflict(t *testing.T) {
	binary := pat(5000, 2)
	// Byte k of the binary message is byte k+4 of its step (a 4-byte
	// header); its segments hold step bytes [0,1460), [1460,2920),
	// [2920,4380) and [4380,5004).
	mutated := bytes.Clone(binary)
	flip(mutated[2916:2926])
	conflict := func(n int) string { return fmt.Sprintf("#1 !tcp-overlap-conflict server %d", n) }
	text := whole(1, "server", "text", pat(1000, 1))
	tests := []struct {
		name string
		tr   gen.Transform
		want []string
	}{
		// Bytes delivered in order, then sent again with other content
		// before the receiver acknowledged them: the first copy is kept.
		{"delivered, unacknowledged", gen.Retransmit(stepServerBinary, gen.FromServer, 100, 110, 5*time.Microsecond, flip),
			replace(conversationRecords(), text, text, conflict(10))},
		// The same after the ACK: the receiver had them, nothing to report.
		{"delivered, acknowledged", gen.Retransmit(stepServerBinary, gen.FromServer, 100, 110, 2*time.Millisecond, flip),
			conversationRecords()},
		// Partly before what was delivered, partly new: only the old part
		// is compared, the new part is taken.
		{"straddling", gen.Retransmit(stepServerBinary, gen.FromServer, 1400, 1500, 5*time.Microsecond, func(b []byte) { flip(b[:60]) }),
			replace(conversationRecords(), text, text, conflict(60))},
		// Buffered out of order (the segment before it is late), then an
		// overlapping copy with other bytes arrives.
		{"buffered, then a different copy", func(info gen.ConnInfo, segs []gen.Segment) []gen.Segment {
			segs = gen.Retransmit(stepServerBinary, gen.FromServer, 2000, 2010, time.Microsecond, flip)(info, segs)
			return gen.Reorder(segmentOf(segs, stepServerBinary, gen.FromServer, 0), segmentOf(segs, stepServerBinary, gen.FromServer, 2))(info, segs)
		}, replace(conversationRecords(), text, text, conflict(10))},
		// The different copy comes first and is buffered: it is the one
		// kept, and the original that follows is the conflict.
		{"different copy first", func(info gen.ConnInfo, segs []gen.Segment) []gen.Segment {
			segs = gen.Retransmit(stepServerBinary, gen.FromServer, 2920, 2930, -time.Microsecond, flip)(info, segs)
			return gen.Reorder(segmentOf(segs, stepServerBinary, gen.FromServer, 0), segmentOf(segs, stepServerBinary, gen.FromServer, 3))(info, segs)
		}, replace(conversationRecords(), whole(1, "server", "binary", binary), conflict(10), whole(1, "server", "binary", mutated))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := gen.New(gen.Options{Seed: 11})
			conversation(c, gen.ConnOptions{Transform: tt.tr})
			got, _ := analyseFile(t, impairFile(t, c))
			checkLines(t, got, tt.want)
		})
	}
}

// TestImpairLoss loses bytes at chosen offsets of the server's stream.
func TestImpairLoss(t *testing.T) {
	text, binary, text2 := pat(1000, 1), pat(5000, 2), pat(300, 3)
	base := conversationRecords()
	w := func(b []byte, op string) string { return whole(1, "server", op, b) }
	tests := []struct {
		name string
		tr   gen.Transform
		want []string
	}{
		// Bytes 96-195 of the text's payload: the frame's extent is known,
		// parsing continues after it; the message is incomplete.
		{"inside a payload", gen.DropStepBytes(stepServerText, gen.FromServer, 100, 200),
			replace(base, w(text, "text"), "#1 !tcp-gap ~server 100", msg(1, "server", "text", 1000, 1, cat(text[:96], text[196:]), "truncated", "incomplete"))},
		// The end of one frame's payload and the first byte of the next
		// header: the first message is incomplete, the second is lost with
		// its header, parsing resumes at the third.
		{"across a frame boundary", gen.DropStepBytes(stepServerText, gen.FromServer, 900, 0),
			replace(base, w(text, "text"), "#1 !tcp-gap ~server 104", msg(1, "server", "text", 1000, 1, text[:896], "truncated", "incomplete"))},
		// Exactly one frame, from its first header byte to its last payload
		// byte: nothing to resynchronise, the message is simply not there.
		{"exactly a frame", gen.DropStepBytes(stepServerText, gen.FromServer, 0, 0),
			replace(base, w(text, "text"), "#1 !tcp-gap ~server 1004")},
		// Two bytes inside a 4-byte header: the frame's length is unknown,
		// parsing scans for the next plausible header (the binary message's)
		// and says how much it skipped; nothing is known of the lost message.
		{"inside a header", gen.DropStepBytes(stepServerText, gen.FromServer, 1, 3),
			replace(base, w(text, "text"), "#1 !tcp-gap ~server 2", "#1 !frame-resync ~server 1002")},
		// A whole segment in the middle of a 4-segment message.
		{"a segment of a long message", gen.DropStepBytes(stepServerBinary, gen.FromServer, 1460, 2920),
			replace(base, w(binary, "binary"), "#1 !tcp-gap ~server 1460", msg(1, "server", "binary", 5000, 1, cat(binary[:1456], binary[2916:]), "truncated", "incomplete"))},
		// The binary's header and all but the last byte of its payload. The
		// client's ACK of the first two segments declares them lost; the
		// last byte arrives out of order, and the ACK of the whole message
		// declares the rest lost. Parsing resynchronises on the next text,
		// after skipping the one byte that arrived.
		{"a header and most of its payload", gen.DropStepBytes(stepServerBinary, gen.FromServer, 0, 5003),
			replace(base, w(binary, "binary"), "#1 !tcp-gap ~server 2920", "#1 !tcp-gap ~server 2083", "#1 !frame-resync ~server 1")},
		// Loss in both directions: inside the server's second text (4-byte
		// header) and inside the client's "bye" (2-byte header, 4-byte
		// masking key: its first two payload bytes).
		{"both directions", gen.Chain(gen.DropStepBytes(stepServerText2, gen.FromServer, 50, 60), gen.DropStepBytes(stepClientBye, gen.FromClient, 6, 8)),
			replace(replace(base, w(text2, "text"), "#1 !tcp-gap ~server 10", msg(1, "server", "text", 300, 1, cat(text2[:46], text2[56:]), "truncated", "incomplete")),
				whole(1, "client", "text", []byte("bye")), "#1 !tcp-gap ~client 2", msg(1, "client", "text", 3, 1, []byte("e"), "truncated", "incomplete"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := gen.New(gen.Options{Seed: 11})
			conversation(c, gen.ConnOptions{Transform: tt.tr})
			got, _ := analyseFile(t, impairFile(t, c))
			checkLines(t, got, tt.want)
		})
	}
}

// TestImpairSnaplen cuts every packet after 400 bytes of TCP payload: the
// handshake fits, the long messages do not. Each cut is a finding; the
// messages keep the bytes captured and are marked incomplete; with
// --frames, the frames are marked truncated.
func TestImpairSnaplen(t *testing.T) {
	c := gen.New(gen.Options{Seed: 11, Snaplen: 14 + 20 + 20 + 400})
	conversation(c, gen.ConnOptions{})
	path := impairFile(t, c)
	text, binary := pat(1000, 1), pat(5000, 2)
	// The binary message's segments hold step bytes [0,1460), [1460,2920),
	// [2920,4380), [4380,5004); of each the first 400 were captured.
	binKept := cat(binary[:396], binary[1456:1856], binary[2916:3316], binary[4376:4776])
	got, _ := analyseFile(t, path)
	base := conversationRecords()
	want := replace(base, whole(1, "server", "text", text),
		"#1 !packet-truncated ~server 604", msg(1, "server", "text", 1000, 1, text[:396], "truncated", "incomplete"))
	want = replace(want, whole(1, "server", "binary", binary),
		"#1 !packet-truncated ~server 1060", "#1 !packet-truncated ~server 1060", "#1 !packet-truncated ~server 1060", "#1 !packet-truncated ~server 224",
		msg(1, "server", "binary", 5000, 1, binKept, "truncated", "incomplete"))
	checkLines(t, got, want)

	got, _ = analyseFile(t, path, "--frames")
	var frames []string
	for _, l := range got {
		if strings.Contains(l, " frame ") {
			frames = append(frames, l)
		}
	}
	checkLines(t, frames, []string{
		"#1 frame client text len=5 " + short([]byte("hello")),
		"#1 frame server text len=1000 truncated " + short(text[:396]),
		"#1 frame server binary len=5000 truncated " + short(binKept),
		"#1 frame server text len=300 " + short(pat(300, 3)),
		"#1 frame client text len=3 " + short([]byte("bye")),
		"#1 frame server text len=4 " + short([]byte("last")),
		"#1 frame client close len=2 " + short([]byte{3, 232}),
		"#1 frame server close len=2 " + short([]byte{3, 232}),
	})
}

// dropSteps drops every segment written by a step before step (the TCP
// handshake is step -1), and the first skip data segments of step in d.
func dropSteps(step int, d gen.Direction, skip int) gen.Transform {
	return func(_ gen.ConnInfo, segs []gen.Segment) []gen.Segment {
		var out []gen.Segment
		n := 0
		for _, s := range segs {
			if s.Step < step {
				continue
			}
			if s.Step == step && s.Dir == d && len(s.Payload) > 0 && n < skip {
				n++
				continue
			}
			out = append(out, s)
		}
		return out
	}
}

// TestImpairMidStream: captures that start after the handshake, or inside
// a frame.
func TestImpairMidStream(t *testing.T) {
	notCaptured := []string{"#1 handshake captured=false", "#1 !handshake-not-captured ~client 198,18,0,1,32768"}
	tail := func(from int) []string { return conversationRecords()[from:] }
	tests := []struct {
		name string
		tr   gen.Transform
		args []string
		want []string
	}{
		{"after the handshake", dropSteps(1, 0, 0), nil, slices.Concat(notCaptured, tail(1))},
		// The capture starts with the binary message's last segment: its
		// 624 bytes are skipped until the next frame header.
		{"inside a frame", dropSteps(stepServerBinary, gen.FromServer, 3), nil,
			slices.Concat(notCaptured, []string{"#1 !frame-resync ~server 624"}, tail(4))},
		// Three segments inside the frame: too many misses for the
		// heuristic (see dissect/probe.go), but --ws-port forces it.
		{"inside a long frame, forced", dropSteps(stepServerBinary, gen.FromServer, 1), []string{"--ws-port", "80"},
			slices.Concat(notCaptured, []string{"#1 !frame-resync ~server 3544"}, tail(4))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := gen.New(gen.Options{Seed: 11})
			conversation(c, gen.ConnOptions{Transform: tt.tr})
			got, _ := analyseFile(t, impairFile(t, c), tt.args...)
			checkLines(t, got, tt.want)
		})
	}
}

// dropPackets copies a pcap file without its first n packets.
func dropPackets(t *testing.T, path string, n int) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if i >= n {
			if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ci.Timestamp, CaptureLength: len(data), Length: ci.Length}, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImpairMidStreamReal drops the first 9 packets of a capture of
// gorilla/websocket (SYN to the first two messages): wscap must find the
// connection from the frames alone and decode every later message.
func TestImpairMidStreamReal(t *testing.T) {
	var meta struct {
		Messages []sentMessage `json:"messages"`
	}
	b, err := os.ReadFile("../../testdata/real/gorilla-basic.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	// The dropped packets held each side's first text message.
	want := map[string][]string{}
	seen := map[string]int{}
	for _, m := range meta.Messages {
		if seen[m.From]++; seen[m.From] == 1 {
			continue
		}
		data, _ := base64.StdEncoding.DecodeString(m.Data)
		s := fmt.Sprintf("%s %x", m.Opcode, data)
		if m.Opcode == "close" {
			s = fmt.Sprintf("close %d", m.CloseCode)
		}
		want[m.From] = append(want[m.From], s)
	}
	path := dropPackets(t, "../../testdata/real/gorilla-basic.pcap", 9)
	out, stderr, code := wscap(t, "read", "--format", "jsonl", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := map[string][]string{}
	var other []string
	for _, r := range records(t, out) {
		switch r["kind"] {
		case "message":
			s := fmt.Sprintf("%s %s", r["opcode"], payloadHex(r))
			if r["opcode"] == "close" {
				s = fmt.Sprintf("close %v", r["close_code"])
			}
			for _, f := range []string{"incomplete", "truncated", "undecodable"} {
				if r[f] == true {
					s += " " + f
				}
			}
			got[r["from"].(string)] = append(got[r["from"].(string)], s)
		case "totals":
		default:
			other = append(other, render(r))
		}
	}
	if len(want["client"]) != 10 || len(want["server"]) != 9 {
		t.Fatalf("expected %d and %d messages", len(want["client"]), len(want["server"]))
	}
	for _, from := range []string{"client", "server"} {
		if !slices.Equal(got[from], want[from]) {
			t.Errorf("%s messages differ:\n got %d: %.300s\nwant %d: %.300s", from, len(got[from]), strings.Join(got[from], " | "), len(want[from]), strings.Join(want[from], " | "))
		}
	}
	checkLines(t, other, []string{"#1 handshake captured=false", "#1 !handshake-not-captured ~client 127,0,0,1,34354", "#1 end close-handshake"})
}

// TestImpairNotWebSocket: plain HTTP/1.1 and TLS conversations, captured
// whole or from the middle (the first packets dropped, starting inside a
// body or a record), and random binary: none is taken for WebSocket.
func TestImpairNotWebSocket(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		return b
	}
	http := func(c *gen.Capture, o gen.ConnOptions) {
		conn := c.Conn(o)
		for i := range 4 {
			conn.Raw(gen.FromClient, []byte(fmt.Sprintf("GET /asset/%d HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\nAccept: */*\r\n\r\n", i)))
			body := random(3000 + 1000*i)
			conn.Raw(gen.FromServer, cat([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n", len(body))), body))
		}
		conn.Raw(gen.FromClient, []byte("POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n"))
		conn.Raw(gen.FromClient, cat(random(0x400), []byte("\r\n0\r\n\r\n")))
		conn.Raw(gen.FromServer, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
		conn.Teardown()
	}
	tls := func(c *gen.Capture, o gen.ConnOptions) {
		conn := c.Conn(o)
		record := func(typ byte, n int) []byte {
			return cat([]byte{typ, 3, 3, byte(n >> 8), byte(n)}, random(n))
		}
		conn.Raw(gen.FromClient, cat([]byte{0x16, 3, 1, 0, 200}, random(200)))
		conn.Raw(gen.FromServer, cat(record(0x16, 90), record(0x16, 2500), record(0x16, 300), []byte{0x14, 3, 3, 0, 1, 1}))
		conn.Raw(gen.FromClient, cat([]byte{0x14, 3, 3, 0, 1, 1}, record(0x17, 53)))
		for i := range 6 {
			conn.Raw(gen.FromClient, record(0x17, 40+100*i))
			conn.Raw(gen.FromServer, cat(record(0x17, 16384), record(0x17, 1000*i+17)))
		}
		conn.Raw(gen.FromClient, record(0x15, 26))
		conn.Teardown()
	}
	binary := func(c *gen.Capture, o gen.ConnOptions) {
		conn := c.Conn(o)
		for i := range 20 {
			conn.Raw(gen.Direction(i%2), random(10+rnd.IntN(3000)))
		}
		conn.Teardown()
	}
	c := gen.New(gen.Options{Seed: 3})
	start := c.Options().Start
	n := 0
	add := func(f func(*gen.Capture, gen.ConnOptions), o gen.ConnOptions) {
		o.Start = start.Add(time.Duration(n) * time.Second)
		n++
		f(c, o)
	}
	add(http, gen.ConnOptions{})
	add(http, gen.ConnOptions{Transform: dropSteps(1, 0, 0)})              // starts with a response body
	add(http, gen.ConnOptions{Transform: dropSteps(3, gen.FromServer, 1)}) // inside a body
	add(tls, gen.ConnOptions{})
	add(tls, gen.ConnOptions{Transform: dropSteps(3, 0, 0)})              // application data only
	add(tls, gen.ConnOptions{Transform: dropSteps(4, gen.FromServer, 2)}) // inside a record
	for range 20 {
		add(binary, gen.ConnOptions{NoTCPHandshake: true})
	}
	got, totals := analyseFile(t, impairFile(t, c))
	checkLines(t, got, nil)
	if p := totals["packets"].(map[string]any); p["websocket"] != 0.0 || p["other_tcp"] == 0.0 || totals["websocket_connections"] != 0.0 {
		t.Errorf("totals %v", totals)
	}
}

// TestImpairIPFragments: every packet with a payload cut into IP fragments
// of 600 bytes (IPv4 and IPv6, in order and last first); the datagrams are
// put together before TCP. A lost fragment loses its whole segment.
func TestImpairIPFragments(t *testing.T) {
	frag := gen.FragmentIP(600, nil)
	loseOne := func(info gen.ConnInfo, seg *gen.Segment, ip []byte) [][]byte {
		pkts := frag(info, seg, ip)
		if seg.Step == stepServerText && seg.Dir == gen.FromServer && len(pkts) > 1 {
			pkts = slices.Delete(pkts, 1, 2)
		}
		return pkts
	}
	text := whole(1, "server", "text", pat(1000, 1))
	tests := []struct {
		name string
		o    gen.ConnOptions
		want []string
	}{
		{"v4", gen.ConnOptions{IPTransform: frag}, conversationRecords()},
		{"v4 last first", gen.ConnOptions{IPTransform: gen.ReverseFragments(frag)}, conversationRecords()},
		{"v6", gen.ConnOptions{IPv6: true, IPTransform: frag}, conversationRecords()},
		{"v6 last first", gen.ConnOptions{IPv6: true, IPTransform: gen.ReverseFragments(frag)}, conversationRecords()},
		{"v4 fragment lost", gen.ConnOptions{IPTransform: loseOne}, replace(conversationRecords(), text, "#1 !tcp-gap ~server 1004")},
		{"v6 fragment lost", gen.ConnOptions{IPv6: true, IPTransform: loseOne}, replace(conversationRecords(), text, "#1 !tcp-gap ~server 1004")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := gen.New(gen.Options{Seed: 11})
			conversation(c, tt.o)
			got, totals := analyseFile(t, impairFile(t, c))
			checkLines(t, got, tt.want)
			// Five packets are over 600 bytes: the text (2 fragments) and the
			// binary's segments (3, 3, 3, 2). The fragment that completes a
			// datagram counts as its TCP packet, the others as ip_fragments:
			// 1+2+2+2+1. When one of the text's two is lost, the other one is
			// held and never completes: still 8.
			if p := totals["packets"].(map[string]any); p["ip_fragments"] != 8.0 {
				t.Errorf("packets %v", p)
			}
		})
	}
}

// TestWritePcapFragments: --write-pcap keeps every IP fragment of a
// selected connection's datagrams, in order or last first, so that the
// export reads back the same; a connection not selected leaves none behind.
func TestWritePcapFragments(t *testing.T) {
	frag := gen.FragmentIP(600, nil)
	for i, o := range []gen.ConnOptions{
		{IPTransform: frag},
		{IPTransform: gen.ReverseFragments(frag)},
		{IPv6: true, IPTransform: frag},
		{IPv6: true, IPTransform: gen.ReverseFragments(frag)},
	} {
		c := gen.New(gen.Options{Seed: 11})
		conversation(c, o)
		other := o
		other.Client = netip.MustParseAddrPort("198.18.0.99:40000")
		if o.IPv6 {
			other.Client = netip.MustParseAddrPort("[2001:db8::99]:40000")
		}
		conversation(c, other) // connection 2, not exported
		path := impairFile(t, c)
		exp := filepath.Join(t.TempDir(), "export.pcapng")
		if _, stderr, code := wscap(t, "read", "--format", "jsonl", "--conn", "1", "--write-pcap", exp, path); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		got, totals := analyseFile(t, exp)
		checkLines(t, got, conversationRecords())
		// Five packets are over 600 bytes, cut into 13 fragments: 8 of
		// them do not complete a datagram. The export has every packet of
		// one of the two identical connections.
		_, all := analyseFile(t, path)
		p, pall := totals["packets"].(map[string]any), all["packets"].(map[string]any)
		if p["ip_fragments"] != 8.0 || p["read"] != pall["read"].(float64)/2 {
			t.Errorf("case %d: export %v, original %v", i, p, pall)
		}
	}
}

// TestImpairPortReuse: three connections on one 4-tuple, one after the
// other; the last one reuses it while the previous one never finished.
func TestImpairPortReuse(t *testing.T) {
	c := gen.New(gen.Options{Seed: 11})
	start := c.Options().Start
	cl, sv := netip.MustParseAddrPort("198.18.0.7:50000"), netip.MustParseAddrPort("192.0.2.9:8080")
	for i, o := range []gen.ConnOptions{
		{},
		{FixISN: true, ClientISN: 1000, ServerISN: 2000},
		{FixISN: true, ClientISN: 1000 + 70000, ServerISN: 2000},
	} {
		o.Client, o.Server, o.Start = cl, sv, start.Add(time.Duration(i)*time.Second)
		conn := c.Conn(o)
		conn.Handshake(gen.Handshake{})
		conn.Text(gen.FromServer, fmt.Sprintf("connection %d", i+1))
		if i < 1 {
			conn.Close(gen.FromClient, 1000, "")
			conn.Close(gen.FromServer, 1000, "")
		}
		if i < 2 {
			conn.Teardown() // the second one ends without a close handshake
		}
	}
	got, _ := analyseFile(t, impairFile(t, c))
	checkLines(t, got, []string{
		"#1 handshake captured=true status=101",
		whole(1, "server", "text", []byte("connection 1")),
		closeMsg(1, "client", 1000), closeMsg(1, "server", 1000),
		"#1 end close-handshake",
		"#2 handshake captured=true status=101",
		whole(2, "server", "text", []byte("connection 2")),
		"#2 !close-handshake-missing - ",
		"#2 end fin",
		"#3 handshake captured=true status=101",
		whole(3, "server", "text", []byte("connection 3")),
		"#3 !connection-open-at-end - ",
		"#3 end end-of-capture",
	})
}

// TestImpairWraparound: sequence numbers of both directions wrap around
// 2^32 inside messages, with reordering, a retransmission and a loss
// across the wrap.
func TestImpairWraparound(t *testing.T) {
	// The server's stream wraps inside the binary message's second segment,
	// the client's inside its request.
	o := gen.ConnOptions{FixISN: true, ClientISN: 0xffffffff - 100, ServerISN: 0xffffffff - 129 - 1004 - 1500}
	binary := pat(5000, 2)
	tests := []struct {
		name string
		tr   gen.Transform
		want []string
	}{
		{"clean", nil, conversationRecords()},
		{"reordered and retransmitted", gen.Chain(
			func(info gen.ConnInfo, segs []gen.Segment) []gen.Segment {
				return gen.Reorder(segmentOf(segs, stepServerBinary, gen.FromServer, 1), segmentOf(segs, stepServerBinary, gen.FromServer, 2))(info, segs)
			},
			gen.Retransmit(stepServerBinary, gen.FromServer, 1000, 2000, 5*time.Microsecond, nil)), conversationRecords()},
		{"loss across the wrap", gen.DropStepBytes(stepServerBinary, gen.FromServer, 1400, 1600),
			replace(conversationRecords(), whole(1, "server", "binary", binary), "#1 !tcp-gap ~server 200", msg(1, "server", "binary", 5000, 1, cat(binary[:1396], binary[1596:]), "truncated", "incomplete"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := o
			o.Transform = tt.tr
			c := gen.New(gen.Options{Seed: 11})
			conversation(c, o)
			got, _ := analyseFile(t, impairFile(t, c))
			checkLines(t, got, tt.want)
		})
	}
}

// TestImpairBufferCap: a lost segment, no ACKs, and more out-of-order data
// than --max-buffered: the reassembly gives up on the hole, says so, and
// decodes what follows.
func TestImpairBufferCap(t *testing.T) {
	c := gen.New(gen.Options{Seed: 11})
	conversation(c, gen.ConnOptions{NoPureACKs: true, Transform: gen.DropStepBytes(stepServerText, gen.FromServer, 500, 600)})
	text, binary := pat(1000, 1), pat(5000, 2)
	got, _ := analyseFile(t, impairFile(t, c), "--max-buffered", "2000")
	// The text's tail (404 bytes) and the binary's first segment (1460)
	// are buffered; its second segment would make 3324 bytes.
	checkLines(t, got, replace(conversationRecords(), whole(1, "server", "text", text),
		"#1 !cap-buffered ~server 2000,100",
		"#1 !tcp-gap ~server 100",
		msg(1, "server", "text", 1000, 1, cat(text[:496], text[596:]), "truncated", "incomplete")))
	// Without the cap, everything waits for the ACK on the client's next
	// data ("bye"), which declares the loss.
	c = gen.New(gen.Options{Seed: 11})
	conversation(c, gen.ConnOptions{NoPureACKs: true, Transform: gen.DropStepBytes(stepServerText, gen.FromServer, 500, 600)})
	got, _ = analyseFile(t, impairFile(t, c))
	want := slices.DeleteFunc(conversationRecords(), func(s string) bool {
		return strings.HasPrefix(s, "#1 server text len=") && s != whole(1, "server", "text", []byte("last")) || strings.HasPrefix(s, "#1 server binary")
	})
	checkLines(t, got, replace(want, whole(1, "client", "text", []byte("bye")),
		whole(1, "client", "text", []byte("bye")),
		"#1 !tcp-gap ~server 100",
		msg(1, "server", "text", 1000, 1, cat(text[:496], text[596:]), "truncated", "incomplete"),
		whole(1, "server", "binary", binary),
		whole(1, "server", "text", pat(300, 3))))
}

// TestImpairIdle: --idle-timeout ends a connection quiet for longer, by
// packet time; what it sends later is a new connection found mid-stream.
func TestImpairIdle(t *testing.T) {
	c := gen.New(gen.Options{Seed: 11})
	conn := c.Conn(gen.ConnOptions{})
	conn.Handshake(gen.Handshake{})
	for i := range 4 {
		conn.Text(gen.FromClient, fmt.Sprintf("before %d", i))
	}
	conn.Wait(10 * time.Second)
	for i := range 4 {
		conn.Text(gen.FromClient, fmt.Sprintf("after %d", i))
		conn.Text(gen.FromServer, fmt.Sprintf("echo %d", i))
	}
	path := impairFile(t, c)
	got, _ := analyseFile(t, path, "--idle-timeout", "5s")
	want := []string{"#1 handshake captured=true status=101"}
	for i := range 4 {
		want = append(want, whole(1, "client", "text", []byte(fmt.Sprintf("before %d", i))))
	}
	want = append(want, "#1 !connection-open-at-end - ", "#1 end idle-timeout",
		"#2 handshake captured=false", "#2 !handshake-not-captured ~client 198,18,0,1,32768")
	for i := range 4 {
		want = append(want, whole(2, "client", "text", []byte(fmt.Sprintf("after %d", i))), whole(2, "server", "text", []byte(fmt.Sprintf("echo %d", i))))
	}
	want = append(want, "#2 !connection-open-at-end - ", "#2 end end-of-capture")
	checkLines(t, got, want)
}
