package realcap

// This test re-reads every capture under testdata/real with a parser of its own, written
// apart from wscap's pcap, reassembly and dissect packages, and checks it against the
// capture's NAME.json. It needs neither network nor root.

import (
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

const dataDir = "../../../testdata/real"

func TestCaptures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(dataDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no expectations in %s", dataDir)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			checkCapture(t, file)
		})
	}
}

// TestEveryCaptureHasExpectation guards against a capture committed without its JSON.
func TestEveryCaptureHasExpectation(t *testing.T) {
	for _, pat := range []string{"*.pcap", "*.pcapng"} {
		caps, _ := filepath.Glob(filepath.Join(dataDir, pat))
		for _, c := range caps {
			j := strings.TrimSuffix(c, filepath.Ext(c)) + ".json"
			if _, err := os.Stat(j); err != nil {
				t.Errorf("%s has no expectation: %v", c, err)
			}
		}
	}
}

func checkCapture(t *testing.T, jsonFile string) {
	raw, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var exp Expectation
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&exp); err != nil {
		t.Fatalf("%s: %v", jsonFile, err)
	}
	segs := readSegments(t, filepath.Join(dataDir, exp.Capture))
	conn := reassemble(t, segs)
	if want := exp.Network == "tcp6"; conn.client.Addr().Is6() != want {
		t.Errorf("client address %v, expectation says %s", conn.client, exp.Network)
	}

	req, toServer, err := splitHeader(conn.up)
	if err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	resp, toClient, err := splitHeader(conn.down)
	if err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	pmd := checkHandshake(t, req, resp)
	if got := resp.get("sec-websocket-extensions"); got != exp.Extensions {
		t.Errorf("Sec-WebSocket-Extensions %q, expectation says %q", got, exp.Extensions)
	}

	up, err := parseMessages(toServer, true, pmd, pmd != nil && !pmd.clientNoContextTakeover)
	if err != nil {
		t.Errorf("client->server: %v", err)
	}
	down, err := parseMessages(toClient, false, pmd, pmd != nil && !pmd.serverNoContextTakeover)
	if err != nil {
		t.Errorf("server->client: %v", err)
	}
	compare(t, "client", up, exp.Messages)
	compare(t, "server", down, exp.Messages)
}

// segment is one TCP segment as captured.
type segment struct {
	src, dst      netip.AddrPort
	seq           uint32
	syn, ack, fin bool
	rst           bool
	payload       []byte
}

// readSegments decodes every packet of a pcap or pcapng file down to TCP.
func readSegments(t *testing.T, path string) []segment {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var src *gopacket.PacketSource
	if binary.BigEndian.Uint32(magic[:]) == 0x0A0D0D0A {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		src = gopacket.NewPacketSource(r, r.LinkType())
	} else {
		r, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		src = gopacket.NewPacketSource(r, r.LinkType())
	}
	var segs []segment
	for {
		p, err := src.NextPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if md := p.Metadata(); md.CaptureLength != md.Length {
			t.Fatalf("packet truncated: %d of %d bytes", md.CaptureLength, md.Length)
		}
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("decode: %v", el.Error())
		}
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || p.NetworkLayer() == nil {
			t.Fatalf("not a TCP packet: %v", p)
		}
		nf := p.NetworkLayer().NetworkFlow()
		sa, _ := netip.AddrFromSlice(nf.Src().Raw())
		da, _ := netip.AddrFromSlice(nf.Dst().Raw())
		segs = append(segs, segment{
			src: netip.AddrPortFrom(sa, uint16(tcp.SrcPort)),
			dst: netip.AddrPortFrom(da, uint16(tcp.DstPort)),
			seq: tcp.Seq, syn: tcp.SYN, ack: tcp.ACK, fin: tcp.FIN, rst: tcp.RST,
			payload: tcp.Payload,
		})
	}
	return segs
}

// connection is a reassembled TCP connection: the bytes each way.
type connection struct {
	client, server netip.AddrPort
	up, down       []byte // client->server, server->client
}

// reassemble orders each direction by sequence number, drops retransmitted bytes and
// insists on no gap, a handshake and a FIN each way.
func reassemble(t *testing.T, segs []segment) connection {
	var c connection
	for _, s := range segs {
		if s.syn && !s.ack {
			c.client, c.server = s.src, s.dst
		}
	}
	if !c.client.IsValid() {
		t.Fatal("no SYN in capture")
	}
	type piece struct {
		off  int64
		data []byte
	}
	build := func(from netip.AddrPort) []byte {
		var isn uint32
		synSeen, finSeen := false, false
		for _, s := range segs {
			if s.src == from && s.syn {
				isn, synSeen = s.seq, true
			}
		}
		if !synSeen {
			t.Fatalf("%v: no SYN", from)
		}
		var pieces []piece
		for _, s := range segs {
			if s.src != from {
				continue
			}
			if s.dst != c.client && s.dst != c.server {
				t.Fatalf("segment %v->%v from another connection", s.src, s.dst)
			}
			if s.rst {
				t.Errorf("%v: RST", from)
			}
			finSeen = finSeen || s.fin
			if len(s.payload) > 0 {
				pieces = append(pieces, piece{off: int64(s.seq - isn - 1), data: s.payload})
			}
		}
		if !finSeen {
			t.Errorf("%v: no FIN; capture stopped early?", from)
		}
		sort.SliceStable(pieces, func(i, j int) bool { return pieces[i].off < pieces[j].off })
		var out []byte
		for _, p := range pieces {
			end := p.off + int64(len(p.data))
			switch {
			case p.off > int64(len(out)):
				t.Fatalf("%v: gap at stream offset %d", from, len(out))
			case end <= int64(len(out)):
				if !bytes.Equal(out[p.off:end], p.data) {
					t.Fatalf("%v: retransmission at %d differs", from, p.off)
				}
			default:
				out = append(out, p.data[int64(len(out))-p.off:]...)
			}
		}
		return out
	}
	c.up, c.down = build(c.client), build(c.server)
	return c
}

// header is an HTTP/1.1 start line and its fields (lower-cased names; repeated fields
// joined with ", " as RFC 9110 §5.3 allows).
type header struct {
	start  string
	fields map[string]string
}

func (h header) get(name string) string { return h.fields[name] }

func splitHeader(b []byte) (header, []byte, error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return header{}, nil, errors.New("no end of header")
	}
	lines := strings.Split(string(b[:end]), "\r\n")
	h := header{start: lines[0], fields: map[string]string{}}
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return header{}, nil, fmt.Errorf("bad header line %q", l)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if old, dup := h.fields[name]; dup {
			value = old + ", " + value
		}
		h.fields[name] = value
	}
	return h, b[end+4:], nil
}

// deflateParams is the negotiated permessage-deflate (RFC 7692 §7.1).
type deflateParams struct {
	serverNoContextTakeover, clientNoContextTakeover bool
	serverMaxWindowBits, clientMaxWindowBits         int
}

func hasToken(v, tok string) bool {
	for _, s := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(s), tok) {
			return true
		}
	}
	return false
}

// checkHandshake checks the opening handshake (RFC 6455 §4) and returns the negotiated
// permessage-deflate parameters, nil when none.
func checkHandshake(t *testing.T, req, resp header) *deflateParams {
	t.Helper()
	if !strings.HasPrefix(req.start, "GET ") || !strings.HasSuffix(req.start, " HTTP/1.1") {
		t.Errorf("request line %q", req.start)
	}
	if !hasToken(req.get("upgrade"), "websocket") || !hasToken(req.get("connection"), "upgrade") {
		t.Errorf("request Upgrade %q Connection %q", req.get("upgrade"), req.get("connection"))
	}
	if req.get("sec-websocket-version") != "13" {
		t.Errorf("Sec-WebSocket-Version %q", req.get("sec-websocket-version"))
	}
	if !strings.HasPrefix(resp.start, "HTTP/1.1 101") {
		t.Errorf("status line %q", resp.start)
	}
	sum := sha1.Sum([]byte(req.get("sec-websocket-key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got, want := resp.get("sec-websocket-accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Errorf("Sec-WebSocket-Accept %q, want %q", got, want)
	}
	ext := resp.get("sec-websocket-extensions")
	if ext == "" {
		return nil
	}
	if strings.Contains(ext, ",") {
		t.Fatalf("more than one extension accepted: %q", ext)
	}
	parts := strings.Split(ext, ";")
	if strings.TrimSpace(parts[0]) != "permessage-deflate" {
		t.Fatalf("unknown extension %q", ext)
	}
	p := &deflateParams{serverMaxWindowBits: 15, clientMaxWindowBits: 15}
	for _, param := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
		v = strings.Trim(v, `"`)
		bits := func() int {
			n, err := strconv.Atoi(v)
			if err != nil || n < 8 || n > 15 {
				t.Errorf("%s=%q", k, v)
			}
			return n
		}
		switch k {
		case "server_no_context_takeover":
			p.serverNoContextTakeover = true
		case "client_no_context_takeover":
			p.clientNoContextTakeover = true
		case "server_max_window_bits":
			p.serverMaxWindowBits = bits()
		case "client_max_window_bits":
			p.clientMaxWindowBits = bits()
		default:
			t.Errorf("unknown permessage-deflate parameter %q", k)
		}
	}
	if !strings.Contains(req.get("sec-websocket-extensions"), "permessage-deflate") {
		t.Errorf("server accepted an extension the client did not offer")
	}
	return p
}

// frame is one decoded WebSocket frame (RFC 6455 §5.2), payload unmasked.
type frame struct {
	fin, rsv1, rsv2, rsv3 bool
	opcode                byte
	masked                bool
	payload               []byte
}

var errShort = errors.New("short frame")

// parseFrame decodes the frame at the start of b and returns it with its size.
func parseFrame(b []byte) (frame, int, error) {
	if len(b) < 2 {
		return frame{}, 0, errShort
	}
	f := frame{
		fin: b[0]&0x80 != 0, rsv1: b[0]&0x40 != 0, rsv2: b[0]&0x20 != 0, rsv3: b[0]&0x10 != 0,
		opcode: b[0] & 0x0f, masked: b[1]&0x80 != 0,
	}
	n := uint64(b[1] & 0x7f)
	pos := 2
	switch n {
	case 126:
		if len(b) < 4 {
			return frame{}, 0, errShort
		}
		n = uint64(binary.BigEndian.Uint16(b[2:]))
		pos = 4
		if n < 126 {
			return frame{}, 0, fmt.Errorf("16-bit length %d not minimal", n)
		}
	case 127:
		if len(b) < 10 {
			return frame{}, 0, errShort
		}
		n = binary.BigEndian.Uint64(b[2:])
		pos = 10
		if n < 1<<16 || n>>63 != 0 {
			return frame{}, 0, fmt.Errorf("64-bit length %d not minimal or too big", n)
		}
	}
	var key [4]byte
	if f.masked {
		if len(b) < pos+4 {
			return frame{}, 0, errShort
		}
		copy(key[:], b[pos:])
		pos += 4
	}
	if uint64(len(b)-pos) < n {
		return frame{}, 0, errShort
	}
	f.payload = make([]byte, n)
	for i := range f.payload {
		f.payload[i] = b[pos+i] ^ key[i%4]
	}
	return f, pos + int(n), nil
}

// message is one reassembled message or control frame.
type message struct {
	opcode     byte
	data       []byte
	compressed bool
	frames     int
}

var opNames = map[byte]string{1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}

// inflater inflates one direction's messages (RFC 7692 §7.2.2), keeping the last 32 KiB
// of output as the next message's dictionary when that direction takes over its context.
type inflater struct {
	takeover bool
	window   []byte
}

func (z *inflater) inflate(p []byte) ([]byte, error) {
	in := make([]byte, 0, len(p)+9)
	in = append(in, p...)
	in = append(in, 0x00, 0x00, 0xff, 0xff)       // §7.2.2: the removed sync-flush tail
	in = append(in, 0x01, 0x00, 0x00, 0xff, 0xff) // an empty final stored block: clean EOF
	out, err := io.ReadAll(flate.NewReaderDict(bytes.NewReader(in), z.window))
	if err != nil {
		return nil, err
	}
	if z.takeover {
		z.window = append(z.window, out...)
		if len(z.window) > 1<<15 {
			z.window = append([]byte(nil), z.window[len(z.window)-1<<15:]...)
		}
	} else {
		z.window = nil
	}
	return out, nil
}

// parseMessages decodes one direction's frames into messages: fragments joined, control
// frames in their place, compressed messages inflated.
func parseMessages(b []byte, fromClient bool, pmd *deflateParams, takeover bool) ([]message, error) {
	z := &inflater{takeover: takeover}
	var msgs []message
	var cur *message
	var parts [][]byte
	closed := false
	for len(b) > 0 {
		f, n, err := parseFrame(b)
		if err != nil {
			return msgs, fmt.Errorf("frame %d: %w", len(msgs), err)
		}
		b = b[n:]
		if closed {
			return msgs, errors.New("frame after close")
		}
		if f.masked != fromClient {
			return msgs, fmt.Errorf("frame masked=%v from client=%v", f.masked, fromClient)
		}
		if f.rsv2 || f.rsv3 {
			return msgs, errors.New("RSV2/RSV3 set")
		}
		switch {
		case f.opcode >= 8:
			if !f.fin || len(f.payload) > 125 || f.rsv1 {
				return msgs, fmt.Errorf("bad control frame %+v", f)
			}
			msgs = append(msgs, message{opcode: f.opcode, data: f.payload, frames: 1})
			closed = f.opcode == 8
			continue
		case f.opcode == 0:
			if cur == nil {
				return msgs, errors.New("continuation without a message")
			}
			if f.rsv1 {
				return msgs, errors.New("RSV1 on a continuation frame")
			}
		case f.opcode == 1 || f.opcode == 2:
			if cur != nil {
				return msgs, errors.New("new message inside a fragmented one")
			}
			if f.rsv1 && pmd == nil {
				return msgs, errors.New("RSV1 without permessage-deflate")
			}
			cur = &message{opcode: f.opcode, compressed: f.rsv1}
			parts = nil
		default:
			return msgs, fmt.Errorf("reserved opcode %#x", f.opcode)
		}
		cur.frames++
		parts = append(parts, f.payload)
		if !f.fin {
			continue
		}
		cur.data = bytes.Join(parts, nil)
		if cur.data == nil {
			cur.data = []byte{}
		}
		if cur.compressed {
			out, err := z.inflate(cur.data)
			if err != nil {
				return msgs, fmt.Errorf("message %d: inflate: %w", len(msgs), err)
			}
			cur.data = out
		}
		if cur.opcode == 1 && !utf8.Valid(cur.data) {
			return msgs, fmt.Errorf("message %d: invalid UTF-8", len(msgs))
		}
		msgs = append(msgs, *cur)
		cur = nil
	}
	if cur != nil {
		return msgs, errors.New("stream ends inside a fragmented message")
	}
	if !closed {
		return msgs, errors.New("no close frame")
	}
	return msgs, nil
}

// compare checks side's messages against the expectation's records for that side.
func compare(t *testing.T, side string, got []message, all []Message) {
	t.Helper()
	var want []Message
	for _, m := range all {
		if m.From == side {
			want = append(want, m)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s sent %d messages, expectation lists %d", side, len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		g, w := got[i], want[i]
		where := fmt.Sprintf("%s message %d (%s)", side, i, w.Opcode)
		data, err := base64.StdEncoding.DecodeString(w.DataB64)
		if err != nil {
			t.Fatalf("%s: data_b64: %v", where, err)
		}
		if opNames[g.opcode] != w.Opcode {
			t.Errorf("%s: opcode %s", where, opNames[g.opcode])
			continue
		}
		if !bytes.Equal(g.data, data) {
			t.Errorf("%s: %d bytes %.40q, want %d bytes %.40q", where, len(g.data), g.data, len(data), data)
		}
		if w.Opcode == "close" {
			code, reason := 1005, ""
			if len(g.data) >= 2 {
				code, reason = int(binary.BigEndian.Uint16(g.data)), string(g.data[2:])
			}
			if code != w.CloseCode || reason != w.CloseReason {
				t.Errorf("%s: close %d %q, want %d %q", where, code, reason, w.CloseCode, w.CloseReason)
			}
		}
		if w.Opcode == "text" || w.Opcode == "binary" {
			if w.Compressed == nil {
				t.Errorf("%s: expectation lacks compressed", where)
			} else if g.compressed != *w.Compressed {
				t.Errorf("%s: compressed %v, want %v", where, g.compressed, *w.Compressed)
			}
		}
		if w.Frames != 0 && g.frames != w.Frames {
			t.Errorf("%s: %d frames, want %d", where, g.frames, w.Frames)
		}
	}
}
