package pcap

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func requireLive(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("live capture is implemented for Linux only")
	}
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root (CI runs as root)")
	}
}

func TestOpenLiveErrors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live capture is implemented for Linux only")
	}
	ctx := context.Background()
	if _, err := OpenLive(ctx, "wscap-nope0", LiveOptions{}); !errors.Is(err, ErrNoInterface) {
		t.Errorf("missing interface: %v, want ErrNoInterface", err)
	}
	if _, err := OpenLive(ctx, "lo", LiveOptions{Filter: "tcp port"}); !errors.Is(err, ErrFilter) {
		t.Errorf("bad filter: %v, want ErrFilter", err)
	}
	if os.Geteuid() != 0 {
		if _, err := OpenLive(ctx, "lo", LiveOptions{}); !errors.Is(err, ErrPermission) {
			t.Errorf("without root: %v, want ErrPermission", err)
		}
	}
}

// TestFanoutOptions: a fanout of more than MaxFanout sockets, or a
// negative one, is refused before any socket opens (no privilege
// needed); without AF_PACKET, any fanout above 1 is ErrFanoutUnsupported.
func TestFanoutOptions(t *testing.T) {
	for _, n := range []int{-1, MaxFanout + 1, 1000} {
		_, err := OpenLive(context.Background(), "lo", LiveOptions{Fanout: n})
		if err == nil || !strings.Contains(err.Error(), "want 1 to 64") {
			t.Errorf("Fanout %d: %v", n, err)
		}
	}
	if runtime.GOOS != "linux" {
		if _, err := OpenLive(context.Background(), "lo", LiveOptions{Fanout: 2}); !errors.Is(err, ErrFanoutUnsupported) {
			t.Errorf("Fanout 2 on %s: %v, want ErrFanoutUnsupported", runtime.GOOS, err)
		}
	}
}

// loopbackTraffic opens a TCP connection on 127.0.0.1 and sends payload
// over it once the capture is open; it returns the server's port.
func loopbackTraffic(t *testing.T) (port int, send func(payload []byte)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, func(payload []byte) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Error(err)
			return
		}
		c.Write(payload)
		c.Close()
	}
}

// collect reads packets until io.EOF or until stop returns true.
func collect(t *testing.T, l *Live, stop func(Record) bool) [][]byte {
	t.Helper()
	var got [][]byte
	for {
		rec, err := l.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, bytes.Clone(rec.Data))
		if stop != nil && stop(rec) {
			return got
		}
	}
}

func TestLiveLoopbackPackets(t *testing.T) {
	requireLive(t)
	port, send := loopbackTraffic(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // the test cannot hang
	defer cancel()
	l, err := OpenLive(ctx, "lo", LiveOptions{Filter: "tcp port " + strconv.Itoa(port), Snaplen: 200})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.LinkType() != layers.LinkTypeEthernet {
		t.Errorf("link type %v, want Ethernet", l.LinkType())
	}
	payload := bytes.Repeat([]byte("wscap"), 400) // 2000 bytes: cut by the snaplen
	before := time.Now()
	go send(payload)
	var fin int
	pkts := collect(t, l, func(rec Record) bool {
		if rec.LinkType != layers.LinkTypeEthernet || rec.TS.Before(before.Add(-time.Second)) || rec.TS.After(time.Now().Add(time.Second)) {
			t.Errorf("record %v %v", rec.LinkType, rec.TS)
		}
		if len(rec.Data) > 200 {
			t.Errorf("record of %d bytes with snaplen 200", len(rec.Data))
		}
		p := gopacket.NewPacket(rec.Data, layers.LayerTypeEthernet, gopacket.Default)
		if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			if int(tcp.SrcPort) != port && int(tcp.DstPort) != port {
				t.Errorf("the filter let through port %d → %d", tcp.SrcPort, tcp.DstPort)
			}
			if tcp.FIN {
				fin++
			}
			if len(tcp.Payload) > 0 && rec.Length <= len(rec.Data) {
				t.Errorf("a cut packet has Length %d, Data %d", rec.Length, len(rec.Data))
			}
		} else {
			t.Errorf("not TCP: %x", rec.Data)
		}
		return fin == 2
	})
	if fin != 2 {
		t.Fatalf("capture ended before both FINs (%d packets)", len(pkts))
	}
	seen := map[string]bool{}
	for _, p := range pkts {
		if seen[string(p)] {
			t.Errorf("packet seen twice: %x", p)
		}
		seen[string(p)] = true
	}
	received, dropped, err := l.Stats()
	if err != nil || received < uint64(len(pkts)) || dropped != 0 || l.Captured() != uint64(len(pkts)) {
		t.Errorf("stats %d received, %d dropped, %v; captured %d, read %d", received, dropped, err, l.Captured(), len(pkts))
	}

	// Cancelling stops the capture within about one poll timeout.
	cancel()
	start := time.Now()
	collect(t, l, nil)
	if d := time.Since(start); d > 3*DefaultPollTimeout {
		t.Errorf("Next took %v to return io.EOF after cancel", d)
	}
}

func TestLiveAny(t *testing.T) {
	requireLive(t)
	port, send := loopbackTraffic(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := OpenLive(ctx, AnyInterface, LiveOptions{Filter: "tcp and port " + strconv.Itoa(port), Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.LinkType() != layers.LinkTypeRaw {
		t.Errorf("link type %v, want raw IP", l.LinkType())
	}
	go send([]byte("hello"))
	pkts := collect(t, l, nil) // --count 3: the handshake
	if len(pkts) != 3 {
		t.Fatalf("%d packets with Count 3", len(pkts))
	}
	for _, p := range pkts {
		if p[0] != 0x45 {
			t.Errorf("not an IPv4 packet without options: %x", p)
		}
	}
}

func TestLiveIdleAndDuration(t *testing.T) {
	requireLive(t)
	idle := 0
	start := time.Now()
	l, err := OpenLive(context.Background(), "lo", LiveOptions{
		Filter: "port 9", Duration: 350 * time.Millisecond, PollTimeout: 50 * time.Millisecond,
		Idle: func() { idle++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	collect(t, l, nil)
	d := time.Since(start)
	if d < 350*time.Millisecond || d > 2*time.Second {
		t.Errorf("Duration 350ms stopped after %v", d)
	}
	if idle < 3 {
		t.Errorf("Idle called %d times in %v with a 50ms poll timeout", idle, d)
	}
}

// sliceSource returns records from memory.
type sliceSource struct {
	recs []Record
	i    int
}

func (s *sliceSource) Next() (Record, error) {
	if s.i == len(s.recs) {
		return Record{}, io.EOF
	}
	s.i++
	return s.recs[s.i-1], nil
}

func (s *sliceSource) Close() error { return nil }

func TestPcapNGTee(t *testing.T) {
	ts := time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC)
	var recs []Record
	for i := range 5 {
		data := bytes.Repeat([]byte{byte(i)}, 60+i)
		recs = append(recs, Record{Data: data, TS: ts.Add(time.Duration(i) * time.Microsecond), Length: len(data) + i, LinkType: layers.LinkTypeRaw})
	}
	path := filepath.Join(t.TempDir(), "tee.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	tee, err := NewPcapNGTee(&sliceSource{recs: recs}, f, "any", layers.LinkTypeRaw, 262144)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		rec, err := tee.Next()
		if err == io.EOF {
			break
		}
		if err != nil || !bytes.Equal(rec.Data, recs[i].Data) {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := tee.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	src, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for i := 0; ; i++ {
		rec, err := src.Next()
		if err == io.EOF {
			if i != len(recs) {
				t.Fatalf("read back %d records, wrote %d", i, len(recs))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		w := recs[i]
		if !bytes.Equal(rec.Data, w.Data) || !rec.TS.Equal(w.TS) || rec.Length != w.Length || rec.LinkType != w.LinkType {
			t.Errorf("record %d: %v %v %d %v, wrote %v %v %d %v", i, len(rec.Data), rec.TS, rec.Length, rec.LinkType, len(w.Data), w.TS, w.Length, w.LinkType)
		}
	}
}
