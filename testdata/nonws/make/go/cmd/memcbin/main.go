// memcbin talks to memcached using the memcached BINARY protocol (request
// magic 0x80, response magic 0x81): version, set, get, getk, delete, noop,
// over two TCP connections, printing each response status.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
)

const (
	opGet     = 0x00
	opSet     = 0x01
	opDelete  = 0x04
	opNoop    = 0x0a
	opVersion = 0x0b
	opGetK    = 0x0c
)

var names = map[byte]string{opGet: "GET", opSet: "SET", opDelete: "DELETE", opNoop: "NOOP", opVersion: "VERSION", opGetK: "GETK"}

type conn struct {
	c      net.Conn
	opaque uint32
}

func (c *conn) do(op byte, key, extras, value []byte) (status uint16, rkey, rval []byte) {
	c.opaque++
	body := len(extras) + len(key) + len(value)
	h := make([]byte, 24, 24+body)
	h[0] = 0x80
	h[1] = op
	binary.BigEndian.PutUint16(h[2:], uint16(len(key)))
	h[4] = byte(len(extras))
	binary.BigEndian.PutUint32(h[8:], uint32(body))
	binary.BigEndian.PutUint32(h[12:], c.opaque)
	h = append(append(append(h, extras...), key...), value...)
	if _, err := c.c.Write(h); err != nil {
		log.Fatal(err)
	}
	var rh [24]byte
	if _, err := io.ReadFull(c.c, rh[:]); err != nil {
		log.Fatal(err)
	}
	if rh[0] != 0x81 || rh[1] != op || binary.BigEndian.Uint32(rh[12:]) != c.opaque {
		log.Fatalf("bad response header % x", rh)
	}
	kl := int(binary.BigEndian.Uint16(rh[2:]))
	el := int(rh[4])
	status = binary.BigEndian.Uint16(rh[6:])
	rb := make([]byte, binary.BigEndian.Uint32(rh[8:]))
	if _, err := io.ReadFull(c.c, rb); err != nil {
		log.Fatal(err)
	}
	rkey, rval = rb[el:el+kl], rb[el+kl:]
	fmt.Printf("  %-7s key=%-10q -> status=0x%04x key=%q value=%q\n", names[op], key, status, rkey, rval)
	return
}

func setExtras(flags, exp uint32) []byte {
	e := make([]byte, 8)
	binary.BigEndian.PutUint32(e, flags)
	binary.BigEndian.PutUint32(e[4:], exp)
	return e
}

func main() {
	addr := flag.String("addr", "127.0.0.1:11311", "memcached address")
	flag.Parse()
	for round := 1; round <= 2; round++ {
		nc, err := net.Dial("tcp", *addr)
		if err != nil {
			log.Fatal(err)
		}
		c := &conn{c: nc}
		fmt.Printf("connection %d\n", round)
		c.do(opVersion, nil, nil, nil)
		for i := 0; i < 3; i++ {
			k := []byte(fmt.Sprintf("key%d-%d", round, i))
			c.do(opSet, k, setExtras(uint32(i), 300), []byte(fmt.Sprintf("value %d/%d %x", round, i, []byte{0, 1, 2, byte(i)})))
			c.do(opGet, k, nil, nil)
			c.do(opGetK, k, nil, nil)
			c.do(opDelete, k, nil, nil)
			c.do(opGet, k, nil, nil) // miss: status 0x0001 key not found
		}
		c.do(opNoop, nil, nil, nil)
		nc.Close()
	}
}
