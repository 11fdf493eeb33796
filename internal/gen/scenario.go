package gen

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// ScenarioParams scales a scenario; zero fields take its defaults. demo
// and lengths are fixed and ignore them.
type ScenarioParams struct {
	Conns    int // connections
	Messages int // data messages per connection
	// TLS makes the connections of medium and many wss:// (ConnOptions.TLS;
	// the secrets go to Options.KeyLog).
	TLS bool
	// H2 carries each WebSocket of medium and many in an HTTP/2 stream
	// (ConnOptions.H2): h2c, or h2 in TLS with TLS.
	H2 bool
}

var scenarios = []struct {
	name, doc string
	build     func(c *Capture, p ScenarioParams)
}{
	{"demo", "four connections: text, binary, ping/pong, a fragmented message with an interleaved ping, close both ways, permessage-deflate with and without context takeover and with small windows, one IPv6 connection, a response sharing a segment with the first frame, coalesced frames", buildDemo},
	{"lengths", "one connection: payloads of 0, 1, 125, 126, 127, 65535, 65536 and 70000 bytes both ways", buildLengths},
	{"medium", "2,000 connections open at once x 32 data messages up to 64 KiB, 30% compressed (half with context takeover, one flate.Writer per direction), 8% fragmented, 10% IPv6; about 220 MB", buildMedium},
	{"many", "100,000 connections x 4 messages of 0-512 bytes, about 27,000 open at once, 20% compressed (half with context takeover, primed from history), 5% IPv6; about 2.1M packets, 290 MB", buildMany},
	{"bulk", "one connection carrying 1 GiB: 1,024 binary messages of 1 MiB from the server (messages scales it), a text from the client every 64; about 1.1M packets, 1.1 GB", buildBulk},
}

// Scenarios returns the scenario names.
func Scenarios() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return names
}

// ScenarioDoc returns a one-line description of a scenario.
func ScenarioDoc(name string) string {
	for _, s := range scenarios {
		if s.name == name {
			return s.doc
		}
	}
	return ""
}

// NewScenario returns a capture holding the named scenario, generated
// from o.Seed.
func NewScenario(name string, o Options, p ScenarioParams) (*Capture, error) {
	for _, s := range scenarios {
		if s.name == name {
			if o.Name == "" {
				o.Name = name
			}
			c := New(o)
			s.build(c, p)
			return c, nil
		}
	}
	return nil, fmt.Errorf("gen: unknown scenario %q (have %v)", name, Scenarios())
}

// scenarioRand returns the generator for scenario choices of connection i,
// a stream apart from the connection's own.
func scenarioRand(seed uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(mix(seed^0x5ce9a710), mix(uint64(i))))
}

func buildDemo(c *Capture, _ ScenarioParams) {
	start := c.opts.Start
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}

	// 0: plain IPv4 with a subprotocol.
	a := c.Conn(ConnOptions{Start: start})
	a.Handshake(Handshake{Path: "/chat", Origin: "http://example.com", UserAgent: "wscapgen/1",
		Protocols: []string{"chat.v1", "chat.v2"}, Protocol: "chat.v2"})
	a.Text(FromClient, `{"op":"hello","user":"alice"}`)
	a.Text(FromServer, `{"op":"welcome","motd":"héllo wörld ✓"}`)
	a.Binary(FromClient, bin)
	a.Binary(FromServer, bin[:17])
	a.Ping(FromClient, []byte("p1"))
	a.Pong(FromServer, []byte("p1"))
	a.Send(FromClient, Message{Opcode: OpText, Size: 3000, Fragments: 3,
		Controls: []Control{{After: 0, Opcode: OpPing, Payload: []byte("mid")}}})
	a.Pong(FromServer, []byte("mid"))
	a.Send(FromServer, Message{Opcode: OpBinary, Size: 5000, Fragments: 2})
	a.Close(FromClient, 1000, "bye")
	a.Close(FromServer, 1000, "bye")
	a.Teardown()

	// 1: permessage-deflate with context takeover, one flate.Writer per direction.
	b := c.Conn(ConnOptions{Start: start.Add(5 * time.Millisecond), PersistentDeflate: true})
	b.Handshake(Handshake{Path: "/feed", Deflate: &Deflate{}})
	b.Text(FromClient, `{"subscribe":["ticker","trades"]}`)
	for _, n := range []int{200, 700, 1200, 2000, 900, 300} {
		b.Send(FromServer, Message{Opcode: OpText, Size: n})
	}
	b.Send(FromServer, Message{Opcode: OpText, Size: 4000, Fragments: 3})
	b.Send(FromServer, Message{Opcode: OpText, Payload: []byte("sent uncompressed"), Compress: CompressOff})
	b.Send(FromServer, Message{Opcode: OpBinary, Size: 1000})
	b.Text(FromClient, `{"unsubscribe":["ticker"]}`)
	b.Close(FromClient, 1000, "")
	b.Close(FromServer, 1000, "")
	b.Teardown()

	// 2: IPv6, no context takeover, small windows.
	v6 := c.Conn(ConnOptions{Start: start.Add(10 * time.Millisecond), IPv6: true})
	v6.Handshake(Handshake{Path: "/v6", Deflate: &Deflate{ServerNoContextTakeover: true,
		ClientNoContextTakeover: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 12}})
	v6.Send(FromClient, Message{Opcode: OpText, Size: 800})
	v6.Send(FromServer, Message{Opcode: OpText, Size: 600})
	v6.Send(FromServer, Message{Opcode: OpText, Size: 3000}) // > 2^10: Huffman only
	v6.Send(FromClient, Message{Opcode: OpBinary, Size: 5000})
	v6.Close(FromServer, 1001, "going away")
	v6.Close(FromClient, 1001, "")
	v6.Teardown()

	// 3: context takeover with an 11-bit server window, the 101 sharing a
	// segment with the first frame, and client frames coalesced.
	d := c.Conn(ConnOptions{Start: start.Add(15 * time.Millisecond)})
	d.Handshake(Handshake{Path: "/push", Deflate: &Deflate{ServerMaxWindowBits: 11},
		ResponseWithFirstFrame: true})
	d.Text(FromServer, `{"welcome":true}`)
	d.Hold(FromClient)
	d.Text(FromClient, "one")
	d.Text(FromClient, "two")
	d.Ping(FromClient, nil)
	d.Push(FromClient)
	d.Pong(FromServer, nil)
	for _, n := range []int{500, 1500, 1800, 2500, 600} {
		d.Send(FromServer, Message{Opcode: OpText, Size: n})
	}
	d.Close(FromClient, 1000, "done")
	d.Close(FromServer, 1000, "done")
	d.Teardown()
}

// LengthsSizes returns the payload sizes of the lengths scenario.
func LengthsSizes() []int { return []int{0, 1, 125, 126, 127, 65535, 65536, 70000} }

func buildLengths(c *Capture, _ ScenarioParams) {
	x := c.Conn(ConnOptions{})
	x.Handshake(Handshake{Path: "/lengths"})
	for _, n := range LengthsSizes() {
		x.Send(FromClient, Message{Opcode: OpBinary, Size: n})
		x.Send(FromServer, Message{Opcode: OpText, Size: n})
	}
	x.Close(FromClient, 1000, "")
	x.Close(FromServer, 1000, "")
	x.Teardown()
}

// scaled holds the knobs of the medium and many scenarios.
type scaled struct {
	conns, messages int
	startEvery      time.Duration // between connection starts
	gap, jitter     time.Duration
	size            func(r *rand.Rand) int
	compressed      float64 // share of compressed connections
	fragmented      float64 // share of fragmented messages
	pings           float64 // share of connections with a ping/pong
	ipv6            float64
	fromClient      float64
	text            float64
	userAgent       bool
	persistent      bool // ConnOptions.PersistentDeflate
	tls             bool // ConnOptions.TLS
	h2              bool // ConnOptions.H2
}

func buildMedium(c *Capture, p ScenarioParams) {
	sc := scaled{conns: 2000, messages: 32, gap: 45 * time.Millisecond, jitter: 30 * time.Millisecond,
		compressed: 0.30, fragmented: 0.08, pings: 0.3, ipv6: 0.10, fromClient: 0.35, text: 0.7,
		userAgent: true, persistent: true,
		size: func(r *rand.Rand) int {
			switch x := r.Float64(); {
			case x < 0.60:
				return r.IntN(512)
			case x < 0.88:
				return 512 + r.IntN(4096-512)
			case x < 0.98:
				return 4096 + r.IntN(32768-4096)
			default:
				return 32768 + r.IntN(65536-32768+1)
			}
		}}
	sc.apply(p)
	// Every connection starts within the first second, so all are open at once.
	sc.startEvery = time.Second / time.Duration(sc.conns)
	sc.build(c)
}

func buildMany(c *Capture, p ScenarioParams) {
	sc := scaled{conns: 100_000, messages: 4, startEvery: 100 * time.Microsecond,
		gap: 210 * time.Millisecond, jitter: 200 * time.Millisecond,
		compressed: 0.20, fragmented: 0.02, ipv6: 0.05, fromClient: 0.5, text: 0.7,
		size: func(r *rand.Rand) int { return r.IntN(513) }}
	sc.apply(p)
	sc.build(c)
}

func (sc *scaled) apply(p ScenarioParams) {
	sc.tls, sc.h2 = p.TLS, p.H2
	if p.Conns > 0 {
		sc.conns = p.Conns
	}
	if p.Messages > 0 {
		sc.messages = p.Messages
	}
}

// build adds the connections as a lazy source.
func (sc *scaled) build(c *Capture) {
	seed, start := c.opts.Seed, c.opts.Start
	i := 0
	c.AddSource(func() *Conn {
		if i >= sc.conns {
			return nil
		}
		conn := sc.conn(scenarioRand(seed, i), start.Add(time.Duration(i)*sc.startEvery))
		i++
		return conn
	})
}

// conn scripts one connection of a scaled scenario. Payloads are generated
// lazily from sizes, so scripting costs little memory.
func (sc *scaled) conn(r *rand.Rand, start time.Time) *Conn {
	conn := NewConn(ConnOptions{Start: start, IPv6: r.Float64() < sc.ipv6, PersistentDeflate: sc.persistent,
		Gap: sc.gap, Jitter: sc.jitter, RTT: time.Duration(100+r.IntN(400)) * time.Microsecond, TLS: sc.tls, SNI: "app.example.com", H2: sc.h2})
	h := Handshake{Path: "/ws"}
	if sc.userAgent {
		h.Origin = "https://app.example.com"
		h.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) wscapgen"
	}
	if r.Float64() < sc.compressed {
		if r.IntN(2) == 0 {
			h.Deflate = &Deflate{}
		} else {
			h.Deflate = &Deflate{ServerNoContextTakeover: true, ClientNoContextTakeover: true}
		}
	}
	conn.Handshake(h)
	ping := -1
	if r.Float64() < sc.pings {
		ping = r.IntN(sc.messages)
	}
	for m := range sc.messages {
		d := FromServer
		if r.Float64() < sc.fromClient {
			d = FromClient
		}
		msg := Message{Opcode: OpBinary, Size: sc.size(r)}
		if r.Float64() < sc.text {
			msg.Opcode = OpText
		}
		interleaved := false
		if r.Float64() < sc.fragmented {
			msg.Fragments = 2 + r.IntN(5)
			if r.IntN(4) == 0 {
				msg.Controls = []Control{{After: 0, Opcode: OpPing, Payload: []byte("keepalive")}}
				interleaved = true
			}
		}
		conn.Send(d, msg)
		if interleaved {
			conn.Pong(d.Peer(), []byte("keepalive"))
		}
		if m == ping {
			conn.Ping(FromServer, []byte{byte(m)})
			conn.Pong(FromClient, []byte{byte(m)})
		}
	}
	first, code := FromClient, uint16(1000)
	if r.IntN(3) == 0 {
		first, code = FromServer, 1001
	}
	conn.Close(first, code, "")
	conn.Close(first.Peer(), code, "")
	conn.Teardown()
	return conn
}

func buildBulk(c *Capture, p ScenarioParams) {
	n := 1024
	if p.Messages > 0 {
		n = p.Messages
	}
	conn := c.Conn(ConnOptions{})
	conn.Handshake(Handshake{Path: "/bulk"})
	for i := range n {
		if i%64 == 0 {
			conn.Send(FromClient, Message{Opcode: OpText, Size: 100})
		}
		conn.Send(FromServer, Message{Opcode: OpBinary, Size: 1 << 20})
	}
	conn.Close(FromClient, 1000, "")
	conn.Close(FromServer, 1000, "")
	conn.Teardown()
}
