package pcap

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// fanoutFlow is what a fanout capture saw of one UDP flow.
type fanoutFlow struct {
	sock int // the socket its packets came from
	seqs []uint32
}

// TestLiveFanout opens a fanout of 3 sockets on lo while 40 UDP flows
// (each from its own port) send numbered datagrams, and 5 TCP connections
// carry data, flow 0 already while the sockets open: every datagram is
// read once, each flow in order and from one socket (but flow 0, which
// moves as the group grows), more than one socket is used, the merged
// stream goes forward in time, and the counters add up over the sockets.
func TestLiveFanout(t *testing.T) {
	requireLive(t)
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, err := srv.Read(buf); err != nil {
				return
			}
		}
	}()
	uport := srv.LocalAddr().(*net.UDPAddr).Port
	tport, send := loopbackTraffic(t)

	const flows, perFlow = 40, 50
	var clients []*net.UDPConn
	for range flows {
		c, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	datagram := func(flow int, seq uint32) []byte {
		b := make([]byte, 100)
		binary.BigEndian.PutUint32(b, uint32(flow))
		binary.BigEndian.PutUint32(b[4:], seq)
		return b
	}
	// Flow 0 sends from before the capture opens until after: the
	// sockets that join the group later must not add copies of it.
	stop0 := make(chan struct{})
	sent0 := make(chan uint32)
	go func() {
		var seq uint32
		for {
			select {
			case <-stop0:
				sent0 <- seq
				return
			default:
			}
			clients[0].Write(datagram(0, seq))
			seq++
			time.Sleep(20 * time.Microsecond)
		}
	}()
	time.Sleep(20 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	filter := fmt.Sprintf("udp port %d or tcp port %d", uport, tport)
	l, err := OpenLive(ctx, "lo", LiveOptions{Filter: filter, Fanout: 3, Snaplen: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if n := len(l.h.fan.socks); n != 3 {
		t.Fatalf("%d sockets", n)
	}
	var wg sync.WaitGroup
	for f := 1; f < flows; f++ {
		wg.Go(func() {
			for seq := range uint32(perFlow) {
				clients[f].Write(datagram(f, seq))
				if seq%10 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	for range 5 {
		wg.Go(func() { send(make([]byte, 100_000)) })
	}
	time.Sleep(30 * time.Millisecond)
	close(stop0)
	last0 := <-sent0
	wg.Wait()
	// The last datagram: the capture ends with it.
	if _, err := clients[1].Write(datagram(1, perFlow)); err != nil {
		t.Fatal(err)
	}

	got := map[int]*fanoutFlow{}
	tcpSocks := map[string]int{}
	var packets, backwards, tcpPackets int
	var prev time.Time
	prevSock := -1
	for {
		rec, err := l.Next()
		if err != nil {
			t.Fatalf("after %d packets: %v", packets, err)
		}
		packets++
		sock := l.h.fan.last
		// One ring's own order may step back by microseconds (datagrams
		// sent on both CPUs): the merge keeps it. Between sockets it goes
		// forward.
		if rec.TS.Before(prev) && sock != prevSock {
			backwards++
			t.Logf("packet %d (socket %d) is stamped %v before the one before (socket %d)", packets, sock, prev.Sub(rec.TS), prevSock)
		}
		prev, prevSock = rec.TS, sock
		p := gopacket.NewPacket(rec.Data, layers.LayerTypeEthernet, gopacket.NoCopy)
		if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			tcpPackets++
			key := strconv.Itoa(int(tcp.SrcPort) + int(tcp.DstPort)) // the client's port plus tport
			if s, ok := tcpSocks[key]; ok && s != sock {
				t.Errorf("TCP connection %s: packets from sockets %d and %d", key, s, sock)
			}
			tcpSocks[key] = sock
			continue
		}
		udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok || len(udp.Payload) < 8 {
			t.Fatalf("packet %d: not one of the test's: %x", packets, rec.Data)
		}
		flow, seq := int(binary.BigEndian.Uint32(udp.Payload)), binary.BigEndian.Uint32(udp.Payload[4:])
		ff := got[flow]
		if ff == nil {
			ff = &fanoutFlow{sock: sock}
			got[flow] = ff
		}
		// While the group grows, a flow moves between its sockets: flow 0
		// ran across the opening.
		if ff.sock != sock && flow != 0 {
			t.Errorf("flow %d: packets from sockets %d and %d", flow, ff.sock, sock)
		}
		if n := len(ff.seqs); n > 0 && seq <= ff.seqs[n-1] {
			t.Errorf("flow %d: datagram %d after %d (socket %d, stamped %d; the sockets joined at %d, %d)", flow, seq, ff.seqs[n-1], sock, rec.TS.UnixNano(), l.h.fan.socks[1].keepFrom, l.h.fan.socks[2].keepFrom)
		}
		ff.seqs = append(ff.seqs, seq)
		if flow == 1 && seq == perFlow {
			break
		}
	}

	used := map[int]bool{}
	for f := 1; f < flows; f++ {
		ff := got[f]
		want := perFlow
		if f == 1 {
			want++
		}
		if ff == nil || len(ff.seqs) != want {
			t.Errorf("flow %d: %v, want %d datagrams", f, ff, want)
			continue
		}
		used[ff.sock] = true
	}
	if len(used) < 2 {
		t.Errorf("every flow came from socket %v", used)
	}
	if len(tcpSocks) != 5 {
		t.Errorf("%d TCP connections seen, want 5", len(tcpSocks))
	}
	// Flow 0 ran across the opening: seen once each, in order (checked
	// above), from its first captured datagram to the last sent.
	if ff := got[0]; ff == nil || ff.seqs[len(ff.seqs)-1] != last0-1 {
		t.Errorf("flow 0: %v, sent up to %d", ff, last0-1)
	} else if gaps := int(ff.seqs[len(ff.seqs)-1]-ff.seqs[0]) + 1 - len(ff.seqs); gaps != 0 {
		t.Logf("flow 0: %d datagrams missing between %d and %d (the sockets' joins)", gaps, ff.seqs[0], ff.seqs[len(ff.seqs)-1])
	}
	if backwards > 0 {
		t.Errorf("%d of %d packets stamped earlier than the one before, from another socket", backwards, packets)
	}
	received, dropped, err := l.Stats()
	if err != nil || received < uint64(packets) || dropped != 0 || l.Captured() != uint64(packets) {
		t.Errorf("stats %d received, %d dropped, %v; captured %d, read %d", received, dropped, err, l.Captured(), packets)
	}
	var sum uint64
	for _, s := range l.h.fan.socks {
		_, v3, _ := s.tp.SocketStats()
		sum += adjusted(uint64(v3.Packets()), s.adjust.Load())
	}
	t.Logf("%d packets (%d TCP) over %d sockets; received %d (the sockets' sum %d)", packets, tcpPackets, len(l.h.fan.socks), received, sum)

	cancel()
	start := time.Now()
	collect(t, l, nil)
	if d := time.Since(start); d > 3*DefaultPollTimeout {
		t.Errorf("Next took %v to return io.EOF after cancel", d)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
