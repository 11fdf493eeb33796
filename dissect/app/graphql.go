package app

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// GraphQLMsg is one message of GraphQL over WebSocket: graphql-transport-ws
// (github.com/enisdenjo/graphql-ws, PROTOCOL.md) or the legacy
// subscriptions-transport-ws protocol, whose subprotocol is graphql-ws.
type GraphQLMsg struct {
	Type          string
	ID            string
	OperationName string // from the payload, or the query's first operation
	Payload       json.RawMessage
	// Latency of a next/data, error or complete since its subscribe/start.
	Latency      time.Duration
	LatencyKnown bool
}

type graphqlDecoder struct {
	legacy bool
	ops    map[string]graphqlOp // open operations by id
	// ended are the ids the client completed or stopped: the server's
	// messages for them that were already on their way are no violation.
	ended map[string]bool
}

type graphqlOp struct {
	at   time.Time
	name string
}

const maxGraphQLOps = 4096

var opName = regexp.MustCompile(`^\s*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)`)

// The message types of each protocol, and which carry an operation id.
var (
	graphqlTypes = map[string]bool{"connection_init": false, "connection_ack": false, "ping": false, "pong": false,
		"subscribe": true, "next": true, "error": true, "complete": true}
	graphqlLegacyTypes = map[string]bool{"connection_init": false, "connection_ack": false, "connection_error": false,
		"ka": false, "connection_terminate": false, "start": true, "data": true, "error": true, "complete": true, "stop": true}
)

func (d *graphqlDecoder) message(c *Conn, client, text bool, payload []byte, ts time.Time, info *Info) {
	var m struct {
		Type    string          `json:"type"`
		ID      *string         `json:"id"`
		Payload json.RawMessage `json:"payload"`
	}
	if !text || json.Unmarshal(payload, &m) != nil || m.Type == "" {
		c.problem(CodeGraphQLMalformed, client, "the message is not a GraphQL over WebSocket message: a JSON object with a type")
		return
	}
	types, doc := graphqlTypes, "graphql-transport-ws PROTOCOL.md"
	if d.legacy {
		types, doc = graphqlLegacyTypes, "subscriptions-transport-ws PROTOCOL.md"
	}
	g := &GraphQLMsg{Type: m.Type, Payload: m.Payload}
	if m.ID != nil {
		g.ID = *m.ID
	}
	info.GraphQL = g
	withID, known := types[m.Type]
	if !known {
		c.problem(CodeGraphQLMalformed, client, fmt.Sprintf("message type %q is not one of %s", m.Type, doc))
	}
	if withID && g.ID == "" {
		c.problem(CodeGraphQLMalformed, client, fmt.Sprintf("a %s message without an id (%s)", m.Type, doc))
	}
	switch m.Type {
	case "subscribe", "start":
		var p struct {
			Query         string `json:"query"`
			OperationName string `json:"operationName"`
		}
		json.Unmarshal(m.Payload, &p)
		g.OperationName = p.OperationName
		if g.OperationName == "" {
			if sm := opName.FindStringSubmatch(p.Query); sm != nil {
				g.OperationName = sm[1]
			}
		}
		if d.ops == nil {
			d.ops = map[string]graphqlOp{}
		}
		if _, dup := d.ops[g.ID]; dup && !d.legacy {
			c.problem(CodeGraphQLMalformed, client, "subscribe with id "+strconv.Quote(g.ID)+", which is already in use (graphql-transport-ws: 4409 Subscriber already exists)")
		}
		if len(d.ops) < maxGraphQLOps {
			d.ops[g.ID] = graphqlOp{ts, g.OperationName}
		}
	case "next", "data", "error", "complete", "stop":
		op, ok := d.ops[g.ID]
		switch {
		case ok:
			g.OperationName = op.name
			g.Latency, g.LatencyKnown = ts.Sub(op.at), true
			if m.Type != "next" && m.Type != "data" {
				delete(d.ops, g.ID)
				if client {
					if d.ended == nil {
						d.ended = map[string]bool{}
					}
					if len(d.ended) < maxGraphQLOps {
						d.ended[g.ID] = true
					}
				}
			}
		case d.ended[g.ID] && !client:
			// in flight when the client ended it
		case g.ID != "" && !(m.Type == "complete" && client) && m.Type != "stop":
			c.problem(CodeGraphQLUnknownID, client, fmt.Sprintf("a %s for operation id %q, which no subscribe seen started", m.Type, g.ID))
		}
	}
	s := m.Type
	if g.ID != "" {
		s += " " + g.ID
	}
	if g.OperationName != "" {
		s += " " + g.OperationName
		info.Names = append(info.Names, g.OperationName)
	}
	if g.LatencyKnown && m.Type != "next" && m.Type != "data" {
		s += fmt.Sprintf(" after %s", g.Latency.Round(10*time.Microsecond))
	}
	info.Summary = s
}

// GraphQL messages are whole WebSocket messages: nothing is held across
// them, and nothing is left unfinished.
func (d *graphqlDecoder) lost(int)        {}
func (d *graphqlDecoder) end(*Conn, bool) {}
