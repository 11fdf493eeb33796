package gen_test

import (
	"bytes"
	"fmt"

	"github.com/wscap/wscap/internal/gen"
)

func Example() {
	c := gen.New(gen.Options{Seed: 42, Format: gen.FormatPcapNG})
	conn := c.Conn(gen.ConnOptions{})
	conn.Handshake(gen.Handshake{Protocols: []string{"chat"}, Protocol: "chat", Deflate: &gen.Deflate{}})
	conn.Text(gen.FromClient, `{"hello":"world"}`)
	conn.Send(gen.FromServer, gen.Message{Opcode: gen.OpText, Size: 4000, Fragments: 3,
		Controls: []gen.Control{{After: 0, Opcode: gen.OpPing, Payload: []byte("hi")}}})
	conn.Pong(gen.FromClient, []byte("hi"))
	conn.Close(gen.FromClient, 1000, "bye")
	conn.Close(gen.FromServer, 1000, "bye")
	conn.Teardown()

	var file bytes.Buffer
	m, err := c.Write(&file)
	if err != nil {
		panic(err)
	}
	// An analyzer's test adds every message it decodes to a Digest and
	// compares it with the manifest.
	var d gen.Digest
	d.Add(true, byte(gen.OpText), []byte(`{"hello":"world"}`))
	fmt.Println(m.Connections, m.DigestCount, m.Totals.Server.Compressed, m.Totals.Server.Fragmented, d.Count)
	// Output: 1 6 1 1 1
}
