package app

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MQTTPacket is one MQTT control packet (MQTT 3.1.1 §2-3, MQTT 5.0 §2-3).
type MQTTPacket struct {
	Type     string // CONNECT, PUBLISH, ... as the specifications name them
	Flags    uint8  // the low four bits of the fixed header
	PacketID int    // -1 when the type has none
	QoS      int
	Retain   bool
	Dup      bool
	Topic    string
	Payload  []byte
	// The type's own fields: CONNECT's, the reason codes of the acks, the
	// topic filters of SUBSCRIBE/UNSUBSCRIBE.
	ProtocolName  string
	ProtocolLevel int
	ClientID      string
	KeepAlive     int
	CleanStart    bool
	Username      string
	WillTopic     string
	ReasonCodes   []int
	Filters       []string
	// Properties (MQTT 5.0 §2.2.2) as [name, value] text.
	Properties [][2]string
}

var mqttTypes = [...]string{"reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

// mqttDecoder reads the control packets of both directions as two byte
// streams: a packet may span WebSocket messages or share one (MQTT 5.0
// §6.0, 3.1.1 §6.0).
type mqttDecoder struct {
	buf   [2][]byte
	level int // the CONNECT's protocol level: 4 (3.1.1) or 5
}

func sniffMQTTConnect(b []byte) bool {
	if len(b) < 10 || b[0] != 0x10 {
		return false
	}
	_, n, ok := mqttVarint(b[1:])
	if !ok {
		return false
	}
	rest := b[1+n:]
	return len(rest) >= 6 && (string(rest[:6]) == "\x00\x04MQTT" || len(rest) >= 8 && string(rest[:8]) == "\x00\x06MQIsdp")
}

// mqttVarint reads a Variable Byte Integer (MQTT 5.0 §1.5.5): at most four
// bytes.
func mqttVarint(b []byte) (v, n int, ok bool) {
	mult := 1
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, false
		}
		v += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			return v, i + 1, true
		}
		mult *= 128
	}
	return 0, 5, false // five or more bytes: malformed
}

func (d *mqttDecoder) message(c *Conn, client, text bool, payload []byte, ts time.Time, info *Info) {
	side := sideOf(client)
	if text {
		c.problem(CodeMQTTMalformed, client, "a text message on an MQTT connection; MQTT control packets go in binary messages (MQTT 5.0 §6.0)")
	}
	b := payload
	if len(d.buf[side]) > 0 {
		d.buf[side] = append(d.buf[side], payload...)
		b = d.buf[side]
	}
	var parts []string
	for len(b) > 0 {
		if b[0]>>4 == 0 {
			c.problem(CodeMQTTMalformed, client, "a control packet of type 0, which is reserved (MQTT 5.0 §2.1.2)")
			b = nil
			break
		}
		rl, n, ok := mqttVarint(b[1:])
		if !ok && n == 5 {
			c.problem(CodeMQTTMalformed, client, "a remaining length longer than four bytes (MQTT 5.0 §1.5.5, 3.1.1 §2.2.3); the rest of the direction is not decoded")
			b = nil
			d.buf[side] = nil
			break
		}
		if !ok || len(b) < 1+n+rl {
			if rl > c.opts.MaxBuffer {
				c.problem(CodeBufferCapped, client, fmt.Sprintf("an MQTT packet announces %d bytes, more than the %d wscap holds; the rest of the direction is not decoded", rl, c.opts.MaxBuffer))
				b = nil
			}
			break
		}
		p := d.packet(c, client, b[0], b[1+n:1+n+rl])
		b = b[1+n+rl:]
		info.MQTT = append(info.MQTT, p)
		parts = append(parts, p.summary())
		if p.Topic != "" {
			info.Names = append(info.Names, p.Topic)
		}
		info.Names = append(info.Names, p.Filters...)
	}
	if len(b) > 0 {
		info.Partial = true
		parts = append(parts, fmt.Sprintf("(%d B of a packet to come)", len(b)))
	}
	d.buf[side] = append(d.buf[side][:0], b...)
	info.Summary = strings.Join(parts, "; ")
}

// mqttReader reads the fields of a packet body, recording the first error.
type mqttReader struct {
	b   []byte
	err string
}

func (r *mqttReader) fail(s string) {
	if r.err == "" {
		r.err = s
	}
	r.b = nil
}

func (r *mqttReader) u8() int {
	if len(r.b) < 1 {
		r.fail("the packet ends inside a field")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return int(v)
}

func (r *mqttReader) u16() int {
	if len(r.b) < 2 {
		r.fail("the packet ends inside a field")
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return int(v)
}

func (r *mqttReader) u32() int {
	if len(r.b) < 4 {
		r.fail("the packet ends inside a field")
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return int(v)
}

func (r *mqttReader) bin() []byte {
	n := r.u16()
	if len(r.b) < n {
		r.fail("a length-prefixed field runs past the packet (MQTT 5.0 §1.5.4)")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *mqttReader) str() string {
	v := r.bin()
	if !utf8.Valid(v) {
		r.fail("a UTF-8 Encoded String is not valid UTF-8 (MQTT 5.0 §1.5.4)")
	}
	return string(v)
}

func (r *mqttReader) varint() int {
	v, n, ok := mqttVarint(r.b)
	if !ok {
		r.fail("a Variable Byte Integer is malformed (MQTT 5.0 §1.5.5)")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// MQTT 5.0 property identifiers (§2.2.2.2) and how their values are coded.
var mqttProps = map[int]struct {
	name string
	kind byte // b byte, 2 two-byte int, 4 four-byte int, v varint, s string, d binary, p string pair
}{
	0x01: {"payload_format", 'b'}, 0x02: {"message_expiry", '4'}, 0x03: {"content_type", 's'},
	0x08: {"response_topic", 's'}, 0x09: {"correlation_data", 'd'}, 0x0B: {"subscription_id", 'v'},
	0x11: {"session_expiry", '4'}, 0x12: {"assigned_client_id", 's'}, 0x13: {"server_keep_alive", '2'},
	0x15: {"auth_method", 's'}, 0x16: {"auth_data", 'd'}, 0x17: {"request_problem_info", 'b'},
	0x18: {"will_delay", '4'}, 0x19: {"request_response_info", 'b'}, 0x1A: {"response_info", 's'},
	0x1C: {"server_reference", 's'}, 0x1F: {"reason_string", 's'}, 0x21: {"receive_maximum", '2'},
	0x22: {"topic_alias_maximum", '2'}, 0x23: {"topic_alias", '2'}, 0x24: {"maximum_qos", 'b'},
	0x25: {"retain_available", 'b'}, 0x26: {"user_property", 'p'}, 0x27: {"maximum_packet_size", '4'},
	0x28: {"wildcard_sub_available", 'b'}, 0x29: {"sub_id_available", 'b'}, 0x2A: {"shared_sub_available", 'b'},
}

func (r *mqttReader) properties() [][2]string {
	n := r.varint()
	if n > len(r.b) {
		r.fail("the properties run past the packet (MQTT 5.0 §2.2.2.1)")
		return nil
	}
	pr := &mqttReader{b: r.b[:n]}
	r.b = r.b[n:]
	var out [][2]string
	for len(pr.b) > 0 && pr.err == "" {
		id := pr.varint()
		p, ok := mqttProps[id]
		if !ok {
			r.fail(fmt.Sprintf("property identifier 0x%02x is not defined (MQTT 5.0 §2.2.2.2)", id))
			return out
		}
		var v string
		switch p.kind {
		case 'b':
			v = strconv.Itoa(pr.u8())
		case '2':
			v = strconv.Itoa(pr.u16())
		case '4':
			v = strconv.Itoa(pr.u32())
		case 'v':
			v = strconv.Itoa(pr.varint())
		case 's':
			v = pr.str()
		case 'd':
			v = fmt.Sprintf("%x", pr.bin())
		case 'p':
			k := pr.str()
			v = k + "=" + pr.str()
		}
		out = append(out, [2]string{p.name, v})
	}
	if pr.err != "" {
		r.fail(pr.err)
	}
	return out
}

// packet decodes one control packet of type and flags first, body rest.
func (d *mqttDecoder) packet(c *Conn, client bool, first byte, body []byte) MQTTPacket {
	t := int(first >> 4)
	p := MQTTPacket{Type: mqttTypes[t], Flags: first & 0x0f, PacketID: -1}
	r := &mqttReader{b: body}
	v5 := d.level == 5
	// Fixed header flags (MQTT 5.0 §2.1.3): PUBLISH's are its own, PUBREL,
	// SUBSCRIBE and UNSUBSCRIBE have 0010, the others 0000.
	switch want := uint8(0); t {
	case 3:
	case 6, 8, 10:
		want = 2
		fallthrough
	default:
		if p.Flags != want {
			c.problem(CodeMQTTMalformed, client, fmt.Sprintf("%s with fixed-header flags %04b; they must be %04b (MQTT 5.0 §2.1.3)", p.Type, p.Flags, want))
		}
	}
	switch t {
	case 1: // CONNECT §3.1
		p.ProtocolName = r.str()
		p.ProtocolLevel = r.u8()
		d.level = p.ProtocolLevel
		v5 = d.level == 5
		flags := r.u8()
		p.CleanStart = flags&0x02 != 0
		p.KeepAlive = r.u16()
		if v5 {
			p.Properties = r.properties()
		}
		p.ClientID = r.str()
		if flags&0x04 != 0 {
			if v5 {
				r.properties()
			}
			p.WillTopic = r.str()
			r.bin()
		}
		if flags&0x80 != 0 {
			p.Username = r.str()
		}
		if flags&0x40 != 0 {
			r.bin() // the password: not kept
		}
		if flags&0x01 != 0 {
			r.fail("the CONNECT flags' reserved bit is set (MQTT 5.0 §3.1.2.3)")
		}
	case 2: // CONNACK §3.2
		r.u8()
		p.ReasonCodes = []int{r.u8()}
		if v5 {
			p.Properties = r.properties()
		}
	case 3: // PUBLISH §3.3
		p.Dup, p.QoS, p.Retain = first&0x08 != 0, int(first>>1)&3, first&0x01 != 0
		if p.QoS == 3 {
			r.fail("a PUBLISH with QoS 3 (MQTT 5.0 §3.3.1.2)")
		}
		p.Topic = r.str()
		if p.QoS > 0 {
			p.PacketID = r.u16()
		}
		if v5 {
			p.Properties = r.properties()
		}
		p.Payload = append([]byte(nil), r.b...)
		r.b = nil
	case 4, 5, 6, 7, 11: // PUBACK, PUBREC, PUBREL, PUBCOMP §3.4-3.7; UNSUBACK §3.11
		p.PacketID = r.u16()
		if v5 && len(r.b) > 0 {
			if t == 11 {
				p.Properties = r.properties()
				for len(r.b) > 0 {
					p.ReasonCodes = append(p.ReasonCodes, r.u8())
				}
			} else {
				p.ReasonCodes = []int{r.u8()}
				if len(r.b) > 0 {
					p.Properties = r.properties()
				}
			}
		} else if t == 11 && v5 {
			r.fail("an UNSUBACK without its reason codes")
		}
	case 8, 10: // SUBSCRIBE §3.8, UNSUBSCRIBE §3.10
		p.PacketID = r.u16()
		if v5 {
			p.Properties = r.properties()
		}
		for len(r.b) > 0 && r.err == "" {
			p.Filters = append(p.Filters, r.str())
			if t == 8 {
				p.QoS = max(p.QoS, r.u8()&3)
			}
		}
		if len(p.Filters) == 0 {
			r.fail(p.Type + " without a topic filter (MQTT 5.0 §3.8.3)")
		}
	case 9: // SUBACK §3.9
		p.PacketID = r.u16()
		if v5 {
			p.Properties = r.properties()
		}
		for len(r.b) > 0 {
			p.ReasonCodes = append(p.ReasonCodes, r.u8())
		}
	case 14, 15: // DISCONNECT §3.14, AUTH §3.15
		if v5 && len(r.b) > 0 {
			p.ReasonCodes = []int{r.u8()}
			if len(r.b) > 0 {
				p.Properties = r.properties()
			}
		}
	}
	if r.err == "" && len(r.b) > 0 {
		r.fail(fmt.Sprintf("%d bytes after the %s's last field", len(r.b), p.Type))
	}
	if r.err != "" {
		c.problem(CodeMQTTMalformed, client, p.Type+": "+r.err)
	}
	return p
}

func (p *MQTTPacket) summary() string {
	s := p.Type
	switch p.Type {
	case "CONNECT":
		s += fmt.Sprintf(" %s v%d client %q keepalive %ds", p.ProtocolName, p.ProtocolLevel, p.ClientID, p.KeepAlive)
	case "PUBLISH":
		s += fmt.Sprintf(" %s q%d", p.Topic, p.QoS)
		if p.Retain {
			s += " retain"
		}
		if p.Dup {
			s += " dup"
		}
		s += fmt.Sprintf(" %d B", len(p.Payload))
	case "SUBSCRIBE", "UNSUBSCRIBE":
		s += " " + strings.Join(p.Filters, ",")
	}
	if p.PacketID >= 0 && p.Type != "PUBLISH" || p.Type == "PUBLISH" && p.QoS > 0 {
		s += " id " + strconv.Itoa(p.PacketID)
	}
	if len(p.ReasonCodes) > 0 && p.Type != "CONNECT" {
		rc := make([]string, len(p.ReasonCodes))
		for i, c := range p.ReasonCodes {
			rc[i] = fmt.Sprintf("0x%02x", c)
		}
		s += " rc " + strings.Join(rc, ",")
	}
	return s
}

func (d *mqttDecoder) lost(side int) { d.buf[side] = nil }

func (d *mqttDecoder) end(c *Conn, client bool) {
	if n := len(d.buf[sideOf(client)]); n > 0 {
		c.problem(CodeMQTTMalformed, client, fmt.Sprintf("the WebSocket ended inside an MQTT control packet: %d bytes of it came (MQTT 5.0 §2.1.4)", n))
	}
}
