package gen

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// The decoding side of the tests: read a capture back with gopacket, check
// checksums and TCP sequence numbers, reassemble the byte streams, and parse
// them with a frame parser written apart from the generator's encoder.

type tpacket struct {
	ts       time.Time
	src, dst netip.AddrPort
	tcp      *layers.TCP
	payload  []byte
	capLen   int
	wireLen  int
}

// readCapture decodes every packet and checks IP and TCP checksums of the
// packets captured whole.
func readCapture(t *testing.T, data []byte) ([]tpacket, layers.LinkType) {
	t.Helper()
	var src gopacket.PacketDataSource
	var lt layers.LinkType
	if len(data) >= 4 && binary.LittleEndian.Uint32(data) == 0x0A0D0D0A {
		r, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		src, lt = r, r.LinkType()
	} else {
		r, err := pcapgo.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		src, lt = r, r.LinkType()
	}
	ps := gopacket.NewPacketSource(src, lt)
	ps.DecodeOptions = gopacket.DecodeOptions{Lazy: false, NoCopy: true}
	var out []tpacket
	for {
		p, err := ps.NextPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		md := p.Metadata()
		tp := tpacket{ts: md.Timestamp, capLen: md.CaptureLength, wireLen: md.Length}
		var srcIP, dstIP net.IP
		var pseudo []byte
		whole := md.CaptureLength == md.Length
		if ip4, ok := p.NetworkLayer().(*layers.IPv4); ok {
			srcIP, dstIP = ip4.SrcIP, ip4.DstIP
			if whole && onesSum(0, ip4.Contents) != 0xffff {
				t.Fatalf("packet %d: bad IPv4 header checksum", len(out)+1)
			}
			pseudo = append(append(slices.Clone([]byte(ip4.SrcIP.To4())), ip4.DstIP.To4()...), 0, 6, 0, 0)
		} else if ip6, ok := p.NetworkLayer().(*layers.IPv6); ok {
			srcIP, dstIP = ip6.SrcIP, ip6.DstIP
			pseudo = append(append(slices.Clone([]byte(ip6.SrcIP)), ip6.DstIP...), 0, 0, 0, 0, 0, 0, 0, 6)
		} else if whole {
			t.Fatalf("packet %d: no IP layer: %v", len(out)+1, p)
		}
		tcp, ok := p.TransportLayer().(*layers.TCP)
		if !ok {
			if whole {
				t.Fatalf("packet %d: no TCP layer", len(out)+1)
			}
			out = append(out, tp)
			continue
		}
		if whole {
			seg := append(slices.Clone(tcp.Contents), tcp.Payload...)
			if len(pseudo) == 12 {
				binary.BigEndian.PutUint16(pseudo[10:], uint16(len(seg)))
			} else {
				binary.BigEndian.PutUint32(pseudo[32:], uint32(len(seg)))
			}
			if onesSum(onesSum(0, pseudo), seg) != 0xffff {
				t.Fatalf("packet %d: bad TCP checksum", len(out)+1)
			}
		}
		sa, _ := netip.AddrFromSlice(srcIP)
		da, _ := netip.AddrFromSlice(dstIP)
		tp.src = netip.AddrPortFrom(sa.Unmap(), uint16(tcp.SrcPort))
		tp.dst = netip.AddrPortFrom(da.Unmap(), uint16(tcp.DstPort))
		tp.tcp = tcp
		tp.payload = tcp.Payload
		out = append(out, tp)
	}
	return out, lt
}

// onesSum folds b into a ones'-complement sum (RFC 1071).
func onesSum(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return sum
}

// tconn is one reassembled connection.
type tconn struct {
	client, server netip.AddrPort
	stream         [2][]byte
	next           [2]uint32
	started        [2]bool
	syn, fin       [2]bool
	rst            bool
	packets        int
	gaps           int // segments not at the expected sequence number
}

// reassemble groups packets by manifest connection and appends each
// direction's payload in capture order. In strict mode every segment must
// start where the previous one ended, and every ACK must acknowledge only
// bytes already seen.
func reassemble(t *testing.T, pkts []tpacket, m *Manifest, strict bool) map[string]*tconn {
	t.Helper()
	conns := map[string]*tconn{}
	for _, c := range m.Conns {
		conns[c.Client] = &tconn{client: netip.MustParseAddrPort(c.Client), server: netip.MustParseAddrPort(c.Server)}
	}
	var last time.Time
	for i, p := range pkts {
		if p.ts.Before(last) {
			t.Fatalf("packet %d: time %v before %v", i+1, p.ts, last)
		}
		last = p.ts
		if p.tcp == nil {
			continue
		}
		d := FromClient
		c := conns[p.src.String()]
		if c == nil || c.server != p.dst {
			d = FromServer
			if c = conns[p.dst.String()]; c == nil || c.server != p.src {
				t.Fatalf("packet %d: %v → %v belongs to no manifest connection", i+1, p.src, p.dst)
			}
		}
		c.packets++
		tcp := p.tcp
		if tcp.SYN {
			if c.syn[d] {
				t.Fatalf("packet %d: second SYN", i+1)
			}
			c.syn[d] = true
			c.next[d] = tcp.Seq + 1
			c.started[d] = true
			if tcp.ACK && tcp.Ack != c.next[d^1] {
				t.Fatalf("packet %d: SYN-ACK acks %d, want %d", i+1, tcp.Ack, c.next[d^1])
			}
			continue
		}
		if !c.started[d] {
			c.started[d] = true
			c.next[d] = tcp.Seq
		}
		if tcp.Seq != c.next[d] {
			c.gaps++
			if strict {
				t.Fatalf("packet %d (%v %s): seq %d, want %d", i+1, d, c.client, tcp.Seq, c.next[d])
			}
		}
		if strict && tcp.ACK && c.started[d^1] && int32(tcp.Ack-c.next[d^1]) > 0 {
			t.Fatalf("packet %d: acks %d beyond the peer's %d", i+1, tcp.Ack, c.next[d^1])
		}
		if tcp.Seq == c.next[d] {
			c.stream[d] = append(c.stream[d], p.payload...)
			c.next[d] += uint32(len(p.payload))
			if tcp.FIN {
				c.fin[d] = true
				c.next[d]++
			}
		}
		if tcp.RST {
			c.rst = true
		}
	}
	return conns
}

// thttp is a parsed HTTP head.
type thttp struct {
	line    string
	headers map[string][]string // lower-case names
	n       int                 // bytes including the blank line
}

func parseHTTP(b []byte) (thttp, error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		return thttp{}, errors.New("no end of headers")
	}
	lines := strings.Split(string(b[:end]), "\r\n")
	h := thttp{line: lines[0], headers: map[string][]string{}, n: end + 4}
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return h, fmt.Errorf("bad header line %q", l)
		}
		k := strings.ToLower(strings.TrimSpace(name))
		h.headers[k] = append(h.headers[k], strings.TrimSpace(value))
	}
	return h, nil
}

func (h thttp) get(name string) string {
	v := h.headers[strings.ToLower(name)]
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// tframe is a frame as the test parser saw it.
type tframe struct {
	fin, rsv1, rsv2, rsv3 bool
	op                    Opcode
	masked                bool
	payload               []byte // unmasked
	minimal               bool   // length in its shortest form
	form                  int    // 7, 16 or 64
}

var errShort = errors.New("short frame")

// parseFrame decodes one frame (RFC 6455 §5.2) from b, unmasking a copy.
func parseFrame(b []byte) (tframe, int, error) {
	if len(b) < 2 {
		return tframe{}, 0, errShort
	}
	f := tframe{fin: b[0]&0x80 != 0, rsv1: b[0]&0x40 != 0, rsv2: b[0]&0x20 != 0, rsv3: b[0]&0x10 != 0,
		op: Opcode(b[0] & 0xf), masked: b[1]&0x80 != 0}
	n := uint64(b[1] & 0x7f)
	i := 2
	f.form = 7
	switch n {
	case 126:
		if len(b) < 4 {
			return f, 0, errShort
		}
		n = uint64(b[2])<<8 | uint64(b[3])
		i, f.form = 4, 16
		f.minimal = n > 125
	case 127:
		if len(b) < 10 {
			return f, 0, errShort
		}
		n = 0
		for _, c := range b[2:10] {
			n = n<<8 | uint64(c)
		}
		i, f.form = 10, 64
		f.minimal = n > 0xffff
	default:
		f.minimal = true
	}
	var key []byte
	if f.masked {
		if len(b) < i+4 {
			return f, 0, errShort
		}
		key = b[i : i+4]
		i += 4
	}
	if uint64(len(b)-i) < n {
		return f, 0, errShort
	}
	f.payload = slices.Clone(b[i : i+int(n)])
	for j := range f.payload {
		if key != nil {
			f.payload[j] ^= key[j%4]
		}
	}
	return f, i + int(n), nil
}

// tmsg is a message as the test decoded it.
type tmsg struct {
	dir        Direction
	op         Opcode
	payload    []byte
	compressed bool
	frames     []tframe
}

// tdeflate is the test's view of the negotiated extension.
type tdeflate struct {
	on       bool
	takeover [2]bool
	bits     [2]int
}

func parseDeflate(ext string) tdeflate {
	var d tdeflate
	for _, e := range strings.Split(ext, ",") {
		params := strings.Split(e, ";")
		if strings.TrimSpace(params[0]) != "permessage-deflate" {
			continue
		}
		d = tdeflate{on: true, takeover: [2]bool{true, true}, bits: [2]int{15, 15}}
		for _, p := range params[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			n, _ := strconv.Atoi(v)
			switch k {
			case "client_no_context_takeover":
				d.takeover[FromClient] = false
			case "server_no_context_takeover":
				d.takeover[FromServer] = false
			case "client_max_window_bits":
				if n > 0 {
					d.bits[FromClient] = n
				}
			case "server_max_window_bits":
				if n > 0 {
					d.bits[FromServer] = n
				}
			}
		}
		break
	}
	return d
}

// tdecoded is one connection decoded.
type tdecoded struct {
	req, resp thttp
	msgs      []tmsg // both directions, each in order
	deflate   tdeflate
	rest      [2][]byte // undecoded tail
}

// decodeConn parses the handshake and the frames of both directions and
// inflates compressed messages with the test's own inflater (checking the
// window) and with compress/flate.
func decodeConn(t *testing.T, c *tconn) tdecoded {
	t.Helper()
	var dc tdecoded
	var err error
	cs, ss := c.stream[FromClient], c.stream[FromServer]
	if dc.req, err = parseHTTP(cs); err != nil {
		t.Fatalf("%v: request: %v", c.client, err)
	}
	cs = cs[dc.req.n:]
	if len(ss) > 0 {
		if dc.resp, err = parseHTTP(ss); err != nil {
			t.Fatalf("%v: response: %v", c.client, err)
		}
		ss = ss[dc.resp.n:]
		dc.deflate = parseDeflate(dc.resp.get("Sec-WebSocket-Extensions"))
	}
	for d, s := range [2][]byte{cs, ss} {
		dir := Direction(d)
		var cur *tmsg
		var hist []byte
		for len(s) > 0 {
			f, n, err := parseFrame(s)
			if err != nil {
				dc.rest[d] = s
				break
			}
			s = s[n:]
			switch {
			case f.op.IsControl():
				dc.msgs = append(dc.msgs, tmsg{dir: dir, op: f.op, payload: f.payload, frames: []tframe{f}})
				continue
			case f.op == OpContinuation:
				if cur == nil {
					t.Fatalf("%v %v: continuation without a message", c.client, dir)
				}
			default:
				if cur != nil {
					t.Fatalf("%v %v: new message inside a fragmented one", c.client, dir)
				}
				cur = &tmsg{dir: dir, op: f.op, compressed: f.rsv1}
			}
			cur.frames = append(cur.frames, f)
			cur.payload = append(cur.payload, f.payload...)
			if !f.fin {
				continue
			}
			if cur.compressed {
				in := append(slices.Clone(cur.payload), 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff)
				bits, takeover := 15, true
				if dc.deflate.on {
					bits, takeover = dc.deflate.bits[d], dc.deflate.takeover[d]
				}
				var dict []byte
				if takeover {
					dict = hist[max(0, len(hist)-32768):]
				}
				plain, err := inflateWindow(in, slices.Clip(slices.Clone(dict)), 1<<bits)
				if err != nil {
					t.Fatalf("%v %v: message %d: %v", c.client, dir, len(dc.msgs), err)
				}
				std, err := io.ReadAll(flate.NewReaderDict(bytes.NewReader(in), dict))
				if err != nil || !bytes.Equal(std, plain) {
					t.Fatalf("%v %v: compress/flate disagrees: %v", c.client, dir, err)
				}
				if takeover {
					hist = append(hist, plain...)
				}
				cur.payload = plain
			}
			dc.msgs = append(dc.msgs, *cur)
			cur = nil
		}
		if cur != nil {
			dc.rest[d] = append([]byte("unfinished message"), s...)
		}
	}
	return dc
}

// checkOpts says which protocol rules verify enforces.
type checkOpts struct {
	lenient bool // skip masking and minimal-length checks
}

// verify decodes a whole capture and checks it against its manifest:
// checksums, contiguous sequence numbers, handshakes, masking, minimal
// lengths, RSV bits, inflated plaintext, UTF-8 of text, counts and digests.
func verify(t *testing.T, data []byte, m *Manifest, o checkOpts) map[string]tdecoded {
	t.Helper()
	pkts, _ := readCapture(t, data)
	if int64(len(pkts)) != m.Packets {
		t.Fatalf("read %d packets, manifest says %d", len(pkts), m.Packets)
	}
	conns := reassemble(t, pkts, m, true)
	out := map[string]tdecoded{}
	var total Digest
	var totals Traffic
	for _, cm := range m.Conns {
		c := conns[cm.Client]
		if c.packets != cm.Packets {
			t.Errorf("%s: %d packets, manifest %d", cm.Client, c.packets, cm.Packets)
		}
		dc := decodeConn(t, c)
		out[cm.Client] = dc
		for d := range 2 {
			if len(dc.rest[d]) > 0 {
				t.Errorf("%s %v: %d undecoded bytes: %q", cm.Client, Direction(d), len(dc.rest[d]), dc.rest[d][:min(40, len(dc.rest[d]))])
			}
		}
		checkHandshake(t, cm, dc)
		var dg Digest
		var tr Traffic
		var hashes [2][]string
		for _, msg := range dc.msgs {
			for i, f := range msg.frames {
				if !o.lenient {
					if f.masked != (msg.dir == FromClient) {
						t.Errorf("%s %v: frame masked=%v", cm.Client, msg.dir, f.masked)
					}
					if !f.minimal {
						t.Errorf("%s %v: %d-byte payload in the %d-bit form", cm.Client, msg.dir, len(f.payload), f.form)
					}
				}
				if f.rsv2 || f.rsv3 || (f.rsv1 && i > 0) {
					t.Errorf("%s %v: frame %d has RSV bits %v %v %v", cm.Client, msg.dir, i, f.rsv1, f.rsv2, f.rsv3)
				}
			}
			if msg.compressed && !dc.deflate.on {
				t.Errorf("%s: compressed message without permessage-deflate", cm.Client)
			}
			if msg.op == OpText && !utf8.Valid(msg.payload) {
				t.Errorf("%s %v: text message is not UTF-8", cm.Client, msg.dir)
			}
			dg.Add(msg.dir == FromClient, byte(msg.op), msg.payload)
			cnt := &tr.Client
			if msg.dir == FromServer {
				cnt = &tr.Server
			}
			cnt.count(msg.op, len(msg.payload), msg.compressed, len(msg.frames))
			h := sha256.Sum256(append([]byte{byte(msg.dir), byte(msg.op)}, msg.payload...))
			hashes[msg.dir] = append(hashes[msg.dir], fmt.Sprintf("%016x", binary.BigEndian.Uint64(h[:8])))
		}
		if dg.String() != cm.Digest {
			t.Errorf("%s: digest %s, manifest %s", cm.Client, dg, cm.Digest)
		}
		if tr != cm.Traffic {
			t.Errorf("%s: decoded %+v\nmanifest %+v", cm.Client, tr, cm.Traffic)
		}
		if len(cm.Messages) > 0 {
			var want [2][]string
			for _, r := range cm.Messages {
				d := FromClient
				if r.From == "server" {
					d = FromServer
				}
				want[d] = append(want[d], r.Hash)
			}
			if !slices.Equal(want[0], hashes[0]) || !slices.Equal(want[1], hashes[1]) {
				t.Errorf("%s: message hashes differ:\n got %v\nwant %v", cm.Client, hashes, want)
			}
		}
		total.Merge(dg)
		totals.Client.add(tr.Client)
		totals.Server.add(tr.Server)
	}
	if total.String() != m.Digest || total.Count != m.DigestCount {
		t.Errorf("digest %s/%d, manifest %s/%d", total, total.Count, m.Digest, m.DigestCount)
	}
	if totals != m.Totals {
		t.Errorf("totals %+v, manifest %+v", totals, m.Totals)
	}
	return out
}

// checkHandshake checks the opening handshake against RFC 6455 §4 and the
// manifest, computing the accept value itself.
func checkHandshake(t *testing.T, cm ConnManifest, dc tdecoded) {
	t.Helper()
	req, resp := dc.req, dc.resp
	if !strings.HasPrefix(req.line, "GET ") || !strings.HasSuffix(req.line, " HTTP/1.1") {
		t.Errorf("%s: request line %q", cm.Client, req.line)
	}
	key := req.get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		t.Errorf("%s: key %q", cm.Client, key)
	}
	for name, want := range map[string]string{"upgrade": "websocket", "connection": "Upgrade", "sec-websocket-version": "13"} {
		if got := req.get(name); !strings.EqualFold(got, want) {
			t.Errorf("%s: request %s %q", cm.Client, name, got)
		}
	}
	if req.get("Host") == "" {
		t.Errorf("%s: no Host", cm.Client)
	}
	if cm.Status != 101 {
		return
	}
	if resp.line != "HTTP/1.1 101 Switching Protocols" {
		t.Errorf("%s: status line %q", cm.Client, resp.line)
	}
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got, want := resp.get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(h[:]); got != want {
		t.Errorf("%s: accept %q, want %q", cm.Client, got, want)
	}
	if got := resp.get("Sec-WebSocket-Protocol"); got != cm.Subprotocol {
		t.Errorf("%s: protocol %q, manifest %q", cm.Client, got, cm.Subprotocol)
	}
	if got := resp.get("Sec-WebSocket-Extensions"); got != cm.Extensions {
		t.Errorf("%s: extensions %q, manifest %q", cm.Client, got, cm.Extensions)
	}
}

// generate writes c and returns the file and manifest.
func write(t *testing.T, c *Capture) ([]byte, *Manifest) {
	t.Helper()
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	m, err := c.Write(w)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m
}
