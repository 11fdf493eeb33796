package app

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SIOPacket is a Socket.IO packet (socket.io-protocol v5, over Engine.IO
// v4; v4 over Engine.IO v3 reads the same).
type SIOPacket struct {
	Type        string // CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK
	Nsp         string // namespace, "/" by default
	ID          int64  // ack id; -1 when none
	Event       string // EVENT, BINARY_EVENT: the first element of the data
	Args        json.RawMessage
	Attachments int // binary packets: the attachments announced
	// Attachment is set on a binary message that is attachment number
	// Attachment-1 of the packet before it.
	Attachment int
}

var engineTypes = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}
var sioTypes = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

type sioDecoder struct {
	// attachments still awaited by the binary packet of each direction.
	want [2]int
	got  [2]int
	pkt  [2]*SIOPacket
}

func (d *sioDecoder) message(c *Conn, client, text bool, payload []byte, ts time.Time, info *Info) {
	side := sideOf(client)
	if !text {
		// A binary message: an attachment of the binary packet before it
		// (Engine.IO v3 prefixes it with 4, the message type).
		if d.want[side] == 0 {
			c.problem(CodeSocketIOMalformed, client, "a binary message that no BINARY_EVENT or BINARY_ACK announced")
			info.EngineIO = "message"
			info.Summary = fmt.Sprintf("binary %d B, not announced", len(payload))
			return
		}
		d.got[side]++
		p := *d.pkt[side]
		p.Attachment = d.got[side]
		info.EngineIO, info.SocketIO = "message", &p
		what := p.Type
		if p.Event != "" {
			what += " " + strconv.Quote(p.Event)
		} else if p.ID >= 0 {
			what += " to " + strconv.FormatInt(p.ID, 10)
		}
		info.Summary = fmt.Sprintf("attachment %d/%d of %s, %d B", d.got[side], d.want[side], what, len(payload))
		if d.got[side] == d.want[side] {
			d.want[side], d.got[side], d.pkt[side] = 0, 0, nil
		}
		return
	}
	if len(payload) == 0 || payload[0] < '0' || payload[0] > '6' {
		c.problem(CodeSocketIOMalformed, client, "a text message that is not an Engine.IO packet (its first character is its type, 0-6)")
		return
	}
	et := engineTypes[payload[0]-'0']
	info.EngineIO = et
	rest := payload[1:]
	switch et {
	case "open":
		var o struct {
			SID          string `json:"sid"`
			PingInterval int    `json:"pingInterval"`
			PingTimeout  int    `json:"pingTimeout"`
		}
		json.Unmarshal(rest, &o)
		info.Summary = fmt.Sprintf("engine.io open sid %s ping %d/%d ms", o.SID, o.PingInterval, o.PingTimeout)
		return
	case "message":
	default:
		info.Summary = "engine.io " + et
		if len(rest) > 0 {
			info.Summary += " " + strconv.Quote(string(rest[:min(len(rest), 32)]))
		}
		return
	}
	if d.want[side] > 0 {
		c.problem(CodeSocketIOAttach, client, fmt.Sprintf("the %s %q announced %d attachments; %d came before the next packet", d.pkt[side].Type, d.pkt[side].Event, d.want[side], d.got[side]))
		d.want[side], d.got[side], d.pkt[side] = 0, 0, nil
	}
	p, err := parseSIO(rest)
	if err != "" {
		c.problem(CodeSocketIOMalformed, client, "a Socket.IO packet that does not parse: "+err)
		info.Summary = "engine.io message " + strconv.Quote(string(rest[:min(len(rest), 32)]))
		return
	}
	info.SocketIO = p
	if p.Attachments > 0 {
		d.want[side], d.got[side], d.pkt[side] = p.Attachments, 0, p
	}
	s := p.Type
	if p.Nsp != "/" {
		s += " " + p.Nsp
	}
	if p.Event != "" {
		s += " " + strconv.Quote(p.Event)
		info.Names = append(info.Names, p.Event)
	}
	if p.ID >= 0 {
		if p.Type == "ACK" || p.Type == "BINARY_ACK" {
			s += " to " + strconv.FormatInt(p.ID, 10)
		} else {
			s += " ack " + strconv.FormatInt(p.ID, 10)
		}
	}
	if p.Attachments > 0 {
		s += fmt.Sprintf(" +%d attachments", p.Attachments)
	}
	if len(p.Args) > 0 {
		s += " " + string(p.Args[:min(len(p.Args), 60)])
	}
	info.Summary = s
}

// parseSIO reads a Socket.IO packet: type, [attachments "-"], [nsp ","],
// [id], [data].
func parseSIO(b []byte) (*SIOPacket, string) {
	if len(b) == 0 || b[0] < '0' || b[0] > '6' {
		return nil, "no packet type (0-6)"
	}
	p := &SIOPacket{Type: sioTypes[b[0]-'0'], Nsp: "/", ID: -1}
	b = b[1:]
	if p.Type == "BINARY_EVENT" || p.Type == "BINARY_ACK" {
		i := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == 0 || i >= len(b) || b[i] != '-' {
			return nil, "a binary packet without its attachment count"
		}
		n, _ := strconv.Atoi(string(b[:i]))
		if n > 1<<16 {
			return nil, "an attachment count of " + string(b[:i])
		}
		p.Attachments = n
		b = b[i+1:]
	}
	if len(b) > 0 && b[0] == '/' {
		i := strings.IndexByte(string(b), ',')
		if i < 0 {
			p.Nsp, b = string(b), nil
		} else {
			p.Nsp, b = string(b[:i]), b[i+1:]
		}
	}
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' && i < 18 {
		i++
	}
	if i > 0 {
		p.ID, _ = strconv.ParseInt(string(b[:i]), 10, 64)
		b = b[i:]
	}
	if len(b) == 0 {
		if p.Type == "EVENT" || p.Type == "BINARY_EVENT" {
			return nil, "an event without data"
		}
		return p, ""
	}
	if !json.Valid(b) {
		return nil, "its data is not JSON"
	}
	p.Args = json.RawMessage(b)
	switch p.Type {
	case "EVENT", "BINARY_EVENT":
		var arr []json.RawMessage
		if json.Unmarshal(b, &arr) != nil || len(arr) == 0 {
			return nil, "an event whose data is not a non-empty array"
		}
		if json.Unmarshal(arr[0], &p.Event) != nil {
			return nil, "an event whose name is not a string"
		}
		if len(arr) > 1 {
			// The arguments after the name, as JSON text.
			rest := []byte(`[`)
			for i, a := range arr[1:] {
				if i > 0 {
					rest = append(rest, ',')
				}
				rest = append(rest, a...)
			}
			p.Args = append(rest, ']')
		} else {
			p.Args = nil
		}
	}
	return p, ""
}

func (d *sioDecoder) lost(side int) { d.want[side], d.got[side], d.pkt[side] = 0, 0, nil }

func (d *sioDecoder) end(c *Conn, client bool) {
	if side := sideOf(client); d.want[side] > 0 {
		c.problem(CodeSocketIOAttach, client, fmt.Sprintf("the %s %q announced %d attachments; %d came before the WebSocket ended", d.pkt[side].Type, d.pkt[side].Event, d.want[side], d.got[side]))
	}
}
