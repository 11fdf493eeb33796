package pipeline

// Counters account for every packet read: Read equals the sum of the other
// fields once the input is flushed.
type Counters struct {
	Read        int64 `json:"read"`
	WebSocket   int64 `json:"websocket"`   // TCP packets of WebSocket connections
	OtherTCP    int64 `json:"other_tcp"`   // TCP packets of other connections
	NotTCP      int64 `json:"not_tcp"`     // well-formed packets of other protocols
	Undecodable int64 `json:"undecodable"` // malformed, or of an unsupported link type
	// Fragments counts the IP fragments that did not complete a datagram:
	// held for reassembly, or dropped (see defrag.Stats). The fragment
	// that completes a datagram counts as the datagram does (its TCP
	// connection, or not_tcp), so the sum stays exact.
	Fragments int64 `json:"ip_fragments"`
}
