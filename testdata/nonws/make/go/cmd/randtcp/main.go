// randtcp runs a TCP server and client in one process over loopback. On each
// connection both sides write chunks of random bytes (crypto/rand) of random
// size 1..4000 concurrently, then half-close; each side reads to EOF.
// With -low every byte is drawn uniformly from {0x00, 0x01, 0x02}.
package main

import (
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"time"
)

var low = flag.Bool("low", false, "bytes only from {0,1,2}")
var chunks = flag.Int("chunks", 8, "chunks each side writes per connection")

func randInt(n int) int {
	var b [8]byte
	rand.Read(b[:])
	return int(binary.LittleEndian.Uint64(b[:]) % uint64(n))
}

func chunk() []byte {
	b := make([]byte, 1+randInt(4000))
	rand.Read(b)
	if *low {
		for i := range b {
			for b[i] >= 255 { // rejection sampling keeps {0,1,2} uniform
				var x [1]byte
				rand.Read(x[:])
				b[i] = x[0]
			}
			b[i] %= 3
		}
	}
	return b
}

// talk writes the chunks and half-closes while concurrently draining the peer.
func talk(c *net.TCPConn) (sent, recv int64) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		recv, _ = io.Copy(io.Discard, c)
	}()
	for i := 0; i < *chunks; i++ {
		b := chunk()
		if _, err := c.Write(b); err != nil {
			log.Fatal(err)
		}
		sent += int64(len(b))
		time.Sleep(time.Duration(2+randInt(15)) * time.Millisecond)
	}
	c.CloseWrite()
	wg.Wait()
	return
}

func main() {
	addr := flag.String("addr", "127.0.0.1:19001", "address")
	n := flag.Int("n", 5, "connections")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan [2]int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				s, r := talk(c.(*net.TCPConn))
				c.Close()
				done <- [2]int64{s, r}
			}()
		}
	}()
	var cs, cr, ss, sr int64
	for i := 0; i < *n; i++ {
		c, err := net.Dial("tcp", *addr)
		if err != nil {
			log.Fatal(err)
		}
		s, r := talk(c.(*net.TCPConn))
		c.Close()
		d := <-done
		cs, cr, ss, sr = cs+s, cr+r, ss+d[0], sr+d[1]
	}
	ln.Close()
	fmt.Printf("%d connections, low=%v: client sent %d bytes (server got %d), server sent %d bytes (client got %d)\n",
		*n, *low, cs, sr, ss, cr)
}
