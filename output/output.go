package output

import (
	"time"

	"github.com/wscap/wscap/dissect"
)

// Every format is two halves. Its Encoder runs on the pipeline's shards,
// one per shard and in parallel, and turns each event into a record: the
// bytes and the value that the format's own Writer needs, made from the
// event while it is valid (events and their payloads are borrowed). The
// pipeline hands the records to the Writer one at a time, in input order,
// with their connection numbers; once the input is over the Writer gets
// the run's Totals (Finish), then Close. A format never reads another
// format's output: JSON Lines records are bytes, the table's are its
// cells, HAR's its entries and messages, stats' its rows and counters.
//
// A new format is one file in this package with its Encoder and Writer,
// and one row in cmd/wscap's table of formats.

// Encoded is one event's record on its way from an Encoder to a Writer.
type Encoded struct {
	Kind dissect.Kind
	// Conn is the record's connection number (0 for none): the pipeline
	// numbers connections in the order they were recognised, which a
	// shard does not know.
	Conn int
	// Bytes are what the encoder appended for the record. They are
	// borrowed: valid during WriteRecord.
	Bytes []byte
	// Value is what the encoder made of the event besides bytes, nil for
	// formats that write bytes (JSON Lines, the sink). The writer owns it.
	Value any
}

// An Encoder turns events into records on a pipeline shard. Each shard
// has its own: an encoder may keep state between events.
type Encoder interface {
	// Encode appends the bytes of ev's record to dst and returns them
	// with the record's value; ok is false for an event that has no
	// record. ev and everything it points to are borrowed: the value
	// must not keep them.
	Encode(dst []byte, ev *dissect.Event) (out []byte, v any, ok bool)
}

// A RecordWriter takes records made by its encoders, in input order.
type RecordWriter interface {
	WriteRecord(r *Encoded) error
}

// A Writer is one output of a run: it makes the encoders of the shards,
// writes what they made, in order, and finishes with the run's totals.
type Writer interface {
	RecordWriter
	// Encoder makes the encoder of one shard.
	Encoder() Encoder
	// Finish is called once the input is over, before Close.
	Finish(t *Totals)
	Close() error
}

// Totals is what a run counted, as the writers finish with it.
type Totals struct {
	// Record is the run's totals record (kind "totals" in the JSON
	// schema): JSON Lines ends with it, the report and the sink keep it,
	// stats' JSON Lines adds the connections' aggregate to it.
	Record any
	// Span is the capture's span, the duration of stats' totals row (the
	// connections' durations overlap: their sum says nothing).
	Span time.Duration
	// Lines say in words what the run counted (packets, TCP connections,
	// TLS, the caps hit, clock steps back), for a summary's foot.
	Lines []string
	// Caps are the lines about the caps the run hit (in Lines too).
	Caps []string
	// Findings counts the findings by code (nil when a filter left out
	// connections: the counts are over all of them).
	Findings map[dissect.Code]int64
}
