package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wscap/wscap/output"
	"github.com/wscap/wscap/pcap"
)

const splitExamples = `  wscap split -n 4 -o shards capture.pcapng
  wscap split -n 8 -o day rotated-00.pcap.gz rotated-01.pcap.gz rotated-02.pcap.gz
  for f in shards/shard-*.pcapng; do wscap read --format jsonl "$f" > "$f.jsonl" & done; wait
`

// maxShards bounds -n: every shard file is open at once, with its buffer.
const maxShards = 1000

// runSplit writes the packets of its inputs into N pcapng files, every TCP
// connection whole in one of them (see splitter).
func runSplit(args []string, e *env) int {
	fs := pflag.NewFlagSet("split", pflag.ContinueOnError)
	n := fs.IntP("shards", "n", 0, "write this many shard files, 1 to 1000 (required)")
	dir := fs.StringP("output-dir", "o", "", "write DIR/shard-000.pcapng, shard-001.pcapng, ... here; created when missing (required)")
	force := fs.Bool("force", false, "replace the shard files DIR already holds (those numbered N or more are removed)")
	if code, ok := parseFlags(fs, args, e, "wscap split -n N -o DIR [flags] FILE...", splitExamples); !ok {
		return code
	}
	files := fs.Args()
	switch {
	case *n < 1 || *n > maxShards:
		e.errorf("split needs -n N, from 1 to %d shard files (got %d)", maxShards, *n)
		return exitError
	case *dir == "":
		e.errorf("split needs -o DIR: the directory to write the shard files into")
		return exitError
	case len(files) == 0:
		e.errorf("split needs at least one capture file")
		return exitError
	case slices.Contains(files, "-"):
		e.errorf("split reads each input twice (its Decryption Secrets Blocks first): it needs files, not standard input")
		return exitError
	}
	// Every input must open as a capture before anything is written.
	for _, name := range files {
		src, err := pcap.Open(name)
		if err != nil {
			e.errorf("%v", err)
			return exitError
		}
		src.Close()
	}
	outs, err := prepareShardDir(*dir, *n, *force, files)
	if err != nil {
		e.errorf("%v", err)
		return exitError
	}
	sp, err := newSplitter(outs, fileSecrets(files))
	if err != nil {
		e.errorf("%v", err)
		return exitError
	}
	status := exitOK
	for _, name := range files {
		if err := sp.file(name); err != nil {
			e.errorf("%v", err)
			status = exitError
			if sp.werr != nil {
				sp.close()
				return exitError // a shard file cannot be written
			}
			// What was read before the damage is in the shards; the
			// next input follows, as read does.
		}
	}
	if err := sp.finish(); err != nil {
		e.errorf("%v", err)
		return exitError
	}
	fmt.Fprintf(e.stderr, "wscap: %s\n", sp.summary(*dir))
	return status
}

// shardName is the file name of shard i.
func shardName(i int) string { return fmt.Sprintf("shard-%03d.pcapng", i) }

// shardIndex returns i for a file named as shardName(i).
func shardIndex(name string) (int, bool) {
	num, ok := strings.CutPrefix(name, "shard-")
	if !ok {
		return 0, false
	}
	if num, ok = strings.CutSuffix(num, ".pcapng"); !ok || len(num) != 3 || strings.Trim(num, "0123456789") != "" {
		return 0, false
	}
	i, _ := strconv.Atoi(num)
	return i, true
}

// prepareShardDir creates dir when missing and returns the paths of the n
// shard files. Shard files already there are an error unless force, and
// never replaced when one of them is an input; with force those numbered
// n or more are removed, so that dir holds one split.
func prepareShardDir(dir string, n int, force bool, inputs []string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var old []string
	for _, ent := range ents {
		if _, ok := shardIndex(ent.Name()); ok {
			old = append(old, filepath.Join(dir, ent.Name()))
		}
	}
	outs := make([]string, n)
	for i := range outs {
		outs[i] = filepath.Join(dir, shardName(i))
	}
	for _, name := range append(slices.Clone(outs), old...) {
		for _, in := range inputs {
			if absPath(in) == absPath(name) || sameFile(in, name) {
				return nil, fmt.Errorf("-o %s: %s is one of the inputs; it is not overwritten", dir, name)
			}
		}
	}
	if len(old) > 0 && !force {
		var names []string
		for _, name := range old[:min(3, len(old))] {
			names = append(names, filepath.Base(name))
		}
		list := strings.Join(names, ", ")
		if len(old) > 3 {
			list += ", ..."
		}
		return nil, fmt.Errorf("-o %s already holds shard files (%s): --force replaces them", dir, list)
	}
	for _, name := range old {
		if i, _ := shardIndex(filepath.Base(name)); i >= n {
			if err := os.Remove(name); err != nil {
				return nil, err
			}
		}
	}
	return outs, nil
}

// fileSecrets returns the TLS key logs of the Decryption Secrets Blocks of
// the files, each once, in order. A damaged file gives what precedes the
// damage: reading its packets reports it.
func fileSecrets(names []string) [][]byte {
	var out [][]byte
	for _, name := range names {
		blobs, _ := pcap.FileSecrets(name)
		for _, b := range blobs {
			if !slices.ContainsFunc(out, func(x []byte) bool { return bytes.Equal(x, b) }) {
				out = append(out, b)
			}
		}
	}
	return out
}

// communityHash is the flow hash that picks a shard: the first 8 bytes,
// big-endian, of the Community ID's digest (output.CommunityHash). A TCP
// connection's shard is thus its community_id (in the connection records)
// decoded from base64, first 8 bytes, modulo N.
func communityHash(a, b netip.Addr, pa, pb uint16, proto uint8) uint64 {
	sum := output.CommunityHash(a, b, pa, pb, proto)
	return binary.BigEndian.Uint64(sum[:8])
}

// flowShard returns the shard of the TCP connection between a and b.
func flowShard(a, b netip.AddrPort, n int) int {
	return int(communityHash(a.Addr(), b.Addr(), a.Port(), b.Port(), 6) % uint64(n))
}

// addrShard returns the shard of the packets between addresses a and b
// that are not placed by a TCP connection.
func addrShard(a, b netip.Addr, n int) int {
	return int(communityHash(a, b, 0, 0, 0) % uint64(n))
}

// splitter writes each packet to one shard: a TCP segment (or the IP
// datagram it came in) to its connection's, chosen by flowShard; any other
// IP packet to its address pair's (addrShard); a packet without an IP
// header (ARP, an unknown link type) to shard 0.
//
// An IP fragment after the first does not carry the TCP header, so the
// fragments of a datagram are held (copied, in capture order) while the
// decoder reassembles it; the fragment that completes it tells whose it
// is, and they are all written to that shard, before it. The decoder's
// own bounds (defrag.Options) decide when a datagram is given up
// (expired, evicted, overlapping); its fragments are then written to the
// connection's shard when the first fragment (offset 0) showed the TCP
// ports, otherwise to the address pair's. So are those still held at the
// end of the input, and the oldest when more than maxHeldBytes are held.
// Every packet is written exactly once; within a shard packets keep their
// capture order, except that held fragments come just before the packet
// that completed or gave up their datagram.
type splitter struct {
	outs    []*os.File
	ws      []*pcap.NgWriter
	dec     *pcap.Decoder
	seg     pcap.Segment
	packets int64 // read over all inputs

	held      map[pcap.DatagramID]*heldDatagram
	order     []*heldDatagram // oldest first; released ones are skipped
	heldBytes int
	byAddr    int   // fragments given up and placed by their address pair
	byPorts   int   // fragments given up and placed by their first fragment's ports
	werr      error // the first error writing a shard file: it ends the split
}

// heldDatagram is the fragments of one IP datagram being reassembled.
type heldDatagram struct {
	id       pcap.DatagramID
	recs     []pcap.Record // copies
	bytes    int
	addr     int // the address pair's shard
	flow     int // the connection's shard, known from the first fragment, or -1
	released bool
}

func newSplitter(outs []string, secrets [][]byte) (*splitter, error) {
	s := &splitter{dec: pcap.NewDecoder(), held: map[pcap.DatagramID]*heldDatagram{}}
	for _, name := range outs {
		f, err := os.Create(name)
		if err != nil {
			s.close()
			return nil, err
		}
		s.outs = append(s.outs, f)
		w, err := pcap.NewNgWriter(f, pcap.NgWriterOptions{Application: "wscap split", Secrets: secrets})
		if err != nil {
			s.close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		s.ws = append(s.ws, w)
	}
	return s, nil
}

func (s *splitter) close() {
	for _, f := range s.outs {
		f.Close()
	}
}

// file splits the packets of one capture file.
func (s *splitter) file(name string) error {
	src, err := pcap.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	for {
		rec, err := src.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.packet(rec); err != nil {
			return err
		}
	}
}

// packet places one packet, whose Data is borrowed.
func (s *splitter) packet(rec pcap.Record) error {
	s.packets++
	n := len(s.ws)
	class := s.dec.DecodeRecord(rec, &s.seg)
	dg, frag := s.dec.Datagram()
	// The decoder forgets datagrams oldest first (timeout, bounds): give
	// theirs up too.
	for len(s.order) > 0 && (s.order[0].released || !s.dec.Reassembling(s.order[0].id)) {
		if h := s.order[0]; !h.released && h.id != dg {
			if err := s.giveUp(h); err != nil {
				return err
			}
		}
		s.order = s.order[1:]
	}
	shard := 0
	if class == pcap.ClassTCP {
		shard = flowShard(s.seg.Src, s.seg.Dst, n)
	} else if src, dst, ok := s.dec.Addrs(); ok {
		shard = addrShard(src, dst, n)
	}
	if !frag {
		return s.write(shard, rec)
	}
	h := s.held[dg]
	if class == pcap.ClassFragment && s.dec.Reassembling(dg) {
		if h == nil {
			h = &heldDatagram{id: dg, addr: shard, flow: -1}
			s.held[dg] = h
			s.order = append(s.order, h)
		}
		s.notePorts(h, n)
		rec.Data = slices.Clone(rec.Data)
		h.recs = append(h.recs, rec)
		h.bytes += len(rec.Data)
		s.heldBytes += len(rec.Data)
		for s.heldBytes > maxHeldBytes && len(s.order) > 0 {
			if h := s.order[0]; !h.released {
				if err := s.giveUp(h); err != nil {
					return err
				}
			}
			s.order = s.order[1:]
		}
		return nil
	}
	if class == pcap.ClassFragment {
		// A fragment that ended its datagram without completing it
		// (overlapping, one too many, no room), or that was refused.
		if h == nil {
			h = &heldDatagram{id: dg, addr: shard, flow: -1}
		}
		s.notePorts(h, n)
		h.recs = append(h.recs, rec)
		return s.giveUp(h)
	}
	// The fragment completed its datagram; an atomic fragment (RFC 6946)
	// completes nothing held, and a datagram of its Id stays held.
	if h != nil && !s.dec.Reassembling(dg) {
		if class != pcap.ClassTCP && h.flow >= 0 {
			shard = h.flow // a TCP header that does not decode
		}
		if err := s.release(h, shard); err != nil {
			return err
		}
	}
	return s.write(shard, rec)
}

// notePorts places h by its connection when the fragment just decoded is
// the first one, which carries the TCP ports.
func (s *splitter) notePorts(h *heldDatagram, n int) {
	if sp, dp, ok := s.dec.FragmentPorts(); ok {
		src, dst, _ := s.dec.Addrs()
		h.flow = flowShard(netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp), n)
	}
}

// giveUp writes the fragments of a datagram that will not complete.
func (s *splitter) giveUp(h *heldDatagram) error {
	shard := h.flow
	if shard < 0 {
		shard = h.addr
		s.byAddr += len(h.recs)
	} else {
		s.byPorts += len(h.recs)
	}
	return s.release(h, shard)
}

// release writes the fragments held of h to shard.
func (s *splitter) release(h *heldDatagram, shard int) error {
	if s.held[h.id] == h {
		delete(s.held, h.id)
	}
	h.released = true
	s.heldBytes -= h.bytes
	for _, r := range h.recs {
		if err := s.write(shard, r); err != nil {
			return err
		}
	}
	h.recs = nil
	return nil
}

func (s *splitter) write(shard int, rec pcap.Record) error {
	if err := s.ws[shard].WritePacket(rec); err != nil {
		s.werr = fmt.Errorf("%s: %w", s.outs[shard].Name(), err)
		return s.werr
	}
	return nil
}

// finish writes the fragments still held and closes the shard files.
func (s *splitter) finish() error {
	var first error
	for _, h := range s.order {
		if !h.released {
			if err := s.giveUp(h); err != nil && first == nil {
				first = err
			}
		}
	}
	s.order = nil
	for i, w := range s.ws {
		if err := w.Flush(); err != nil && first == nil {
			first = fmt.Errorf("%s: %w", s.outs[i].Name(), err)
		}
		if err := s.outs[i].Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// summary is the line printed at the end: packets per shard, and the IP
// fragments of datagrams that never completed.
func (s *splitter) summary(dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "split %d packets into %d shard files in %s:", s.packets, len(s.ws), dir)
	for _, w := range s.ws {
		fmt.Fprintf(&b, " %d", w.Packets())
	}
	if s.byAddr+s.byPorts > 0 {
		fmt.Fprintf(&b, "; %d IP fragments of incomplete datagrams", s.byAddr+s.byPorts)
		if s.byPorts > 0 {
			fmt.Fprintf(&b, ", %d placed by the TCP ports of their first fragment", s.byPorts)
		}
		if s.byAddr > 0 {
			fmt.Fprintf(&b, ", %d by address pair only", s.byAddr)
		}
	}
	return b.String()
}
