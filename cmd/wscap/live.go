package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/wscap/wscap/pcap"
)

const liveExamples = `  wscap live -i eth0 -f 'tcp port 8080'
  wscap live -i any --format jsonl -f 'port 443 or port 80' | jq 'select(.kind=="message")'
  wscap live -i lo --duration 30s --write session.pcapng
  wscap live -i eth0 --fanout 4 -f 'tcp port 443' --keylog keys.log
  wscap live -D
`

// liveFlags are the flags of wscap live besides the pipeline's.
type liveFlags struct {
	iface    string
	list     bool
	filter   string
	snaplen  int
	promisc  bool
	ringMiB  int
	count    uint64
	duration time.Duration
	write    string
	user     string
	fanout   int
}

func (f *liveFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.iface, "interface", "i", "", `interface to capture on; "any" for all of them`)
	fs.BoolVarP(&f.list, "list-interfaces", "D", false, "list the interfaces and exit")
	fs.StringVarP(&f.filter, "filter", "f", "", "capture filter applied in the kernel: tcp, ip, ip6, udp, [src|dst] host ADDR, net CIDR, port N, portrange N-M, and/or/not, parentheses (any tcpdump expression in a libpcap build)")
	fs.IntVar(&f.snaplen, "snaplen", pcap.DefaultSnaplen, "bytes kept of each packet")
	fs.BoolVar(&f.promisc, "promisc", false, "promiscuous mode: also capture frames not addressed to this host")
	fs.IntVar(&f.ringMiB, "ring-size", pcap.DefaultRingSize>>20, "size of the kernel's capture ring in MiB")
	fs.Uint64VarP(&f.count, "count", "c", 0, "stop after N packets (0: no limit)")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long, e.g. 30s (0: no limit)")
	fs.StringVarP(&f.write, "write", "w", "", "also save the raw packets to FILE as pcapng (opened before privileges are dropped)")
	fs.StringVar(&f.user, "user", "nobody", `when started as root, switch to this user once the capture socket is open ("" keeps root)`)
	fs.IntVar(&f.fanout, "fanout", 1, fmt.Sprintf("capture with N sockets (1 to %d) in a PACKET_FANOUT group, each with its reader and a --ring-size ring, the kernel hashing each flow to one; the output is merged by time", pcap.MaxFanout))
}

func runLive(args []string, e *env) int {
	fs := pflag.NewFlagSet("live", pflag.ContinueOnError)
	var lf liveFlags
	var pf pipelineFlags
	pf.followKeyLogs = true // a browser appends to its key log while the capture runs
	lf.register(fs)
	pf.sinkLive = true // the sink drops what the server does not take in time, counted
	pf.register(fs, flagGroups{command: "live", view: true, message: true, sink: true})
	if code, ok := parseFlags(fs, args, e, "wscap live -i INTERFACE [flags]", liveExamples); !ok {
		return code
	}
	if lf.list {
		return listInterfaces(e)
	}
	_, formatErr := pf.outputFormat()
	switch {
	case fs.NArg() > 0:
		e.errorf("unexpected argument %q: give a capture filter with -f '%s'", fs.Arg(0), strings.Join(fs.Args(), " "))
		return exitError
	case pf.writePcap != "":
		// The export reads the input again once the connections shown are
		// known, which a live capture cannot: say so now, not when the
		// capture ends.
		e.errorf("live --write-pcap cannot read the capture again: save the packets with -w FILE (opened before privileges are dropped), then run wscap read --write-pcap OUT FILE")
		return exitError
	case lf.iface == "":
		e.errorf("live needs an interface: -i NAME, or -i any (see 'wscap live -D')")
		return exitError
	case formatErr != nil:
		e.errorf("%v", formatErr)
		return exitError
	case lf.snaplen <= 0 || lf.snaplen > 1<<20:
		e.errorf("--snaplen %d: want 1 to %d", lf.snaplen, 1<<20)
		return exitError
	case lf.ringMiB <= 0 || lf.ringMiB > 1<<14:
		e.errorf("--ring-size %d: want 1 to %d MiB", lf.ringMiB, 1<<14)
		return exitError
	case lf.duration < 0:
		e.errorf("--duration must not be negative")
		return exitError
	case lf.fanout < 1 || lf.fanout > pcap.MaxFanout:
		e.errorf("--fanout %d: want 1 to %d sockets", lf.fanout, pcap.MaxFanout)
		return exitError
	}

	// Ctrl-C and SIGTERM end the capture; Next then returns io.EOF, the
	// pipeline summarises what is open. A second signal kills.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	live, err := pcap.OpenLive(ctx, lf.iface, pcap.LiveOptions{
		Snaplen:     lf.snaplen,
		Promiscuous: lf.promisc,
		RingSize:    lf.ringMiB << 20,
		Filter:      lf.filter,
		Count:       lf.count,
		Duration:    lf.duration,
		Fanout:      lf.fanout,
	})
	if err != nil {
		e.errorf("%s", liveOpenError(lf.iface, err))
		return exitError
	}
	var src pcap.Source = live
	var file *os.File
	if lf.write != "" {
		// Opened before privileges are dropped: the file belongs to the
		// user who started wscap, in a directory only it may write.
		file, err = os.OpenFile(lf.write, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		var tee *pcap.PcapNGTee
		if err == nil {
			tee, err = pcap.NewPcapNGTee(live, file, lf.iface, live.LinkType(), live.Snaplen())
		}
		if err != nil {
			live.Close()
			if file != nil {
				file.Close()
			}
			e.errorf("--write: %v", err)
			return exitError
		}
		tee.SetIdle(nil) // the file is flushed whenever the link is quiet
		src = tee
	}
	if who, err := dropPrivileges(lf.user, fs.Changed("user")); err != nil {
		src.Close()
		if file != nil {
			file.Close()
		}
		e.errorf("dropping privileges: %v", err)
		return exitError
	} else if who != "" {
		fmt.Fprintf(e.stderr, "wscap: running as %s\n", who)
	}
	if lf.fanout > 1 {
		fmt.Fprintf(e.stderr, "wscap: listening on %s with %d fanout sockets, link-type %s, snapshot length %d bytes\n", lf.iface, lf.fanout, live.LinkType(), live.Snaplen())
	} else {
		fmt.Fprintf(e.stderr, "wscap: listening on %s, link-type %s, snapshot length %d bytes\n", lf.iface, live.LinkType(), live.Snaplen())
	}

	status := analyse(e, &pf, []input{{name: lf.iface, open: func() (pcap.Source, error) { return src, nil }}}, true)
	src.Close() // analyse has closed it, unless it stopped before opening it
	if file != nil {
		if err := file.Close(); err != nil {
			e.errorf("--write: %v", err)
			status = exitError
		}
	}
	received, kernelDropped, err := live.Stats()
	fmt.Fprintf(e.stderr, "wscap: %d packets captured\n", live.Captured())
	if err != nil {
		e.errorf("reading the kernel's counters: %v", err)
		return exitError
	}
	fmt.Fprintf(e.stderr, "wscap: %d packets received by filter\n", received)
	fmt.Fprintf(e.stderr, "wscap: %d packets dropped by kernel\n", kernelDropped)
	if lf.fanout > 1 {
		// The lines above keep tcpdump's shape (scripts read them); this
		// one says they are sums.
		fmt.Fprintf(e.stderr, "wscap: kernel: %d received, %d dropped over %d fanout sockets\n", received, kernelDropped, lf.fanout)
	}
	// wscap never discards a packet it took from the ring: when the
	// analysis falls behind, the reader waits, the ring fills and the
	// kernel drops (counted above). The line stays for a pipeline that
	// would shed load.
	const wscapDropped = 0
	fmt.Fprintf(e.stderr, "wscap: %d packets dropped by wscap\n", wscapDropped)
	return status
}

// liveOpenError says what to do about an error opening the capture.
func liveOpenError(iface string, err error) string {
	switch {
	case errors.Is(err, pcap.ErrPermission):
		return fmt.Sprintf("capturing on %s needs root or the CAP_NET_RAW capability: run wscap as root, or grant it once with: sudo setcap cap_net_raw,cap_net_admin+eip $(command -v wscap)", iface)
	case errors.Is(err, pcap.ErrNoInterface):
		return fmt.Sprintf("no interface named %q (see 'wscap live -D')", iface)
	case errors.Is(err, pcap.ErrInterfaceDown):
		return fmt.Sprintf("interface %s is down (ip link set %s up)", iface, iface)
	case errors.Is(err, pcap.ErrFanoutUnsupported):
		return "--fanout needs AF_PACKET on Linux: leave it at 1 here"
	}
	return err.Error()
}

func listInterfaces(e *env) int {
	ifs, err := pcap.Interfaces()
	if err != nil {
		e.errorf("listing interfaces: %v", err)
		return exitError
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for i, it := range ifs {
		desc := it.Description
		if desc == "" {
			var fl []string
			if it.Flags&net.FlagUp != 0 {
				fl = append(fl, "up")
			} else {
				fl = append(fl, "down")
			}
			if it.Flags&net.FlagLoopback != 0 {
				fl = append(fl, "loopback")
			}
			desc = "[" + strings.Join(fl, ", ") + "]"
			if len(it.Addrs) > 0 {
				desc += " " + strings.Join(it.Addrs, " ")
			}
		}
		fmt.Fprintf(tw, "%d.\t%s\t%s\n", i+1, it.Name, desc)
	}
	if err := tw.Flush(); err != nil {
		e.errorf("%v", err)
		return exitError
	}
	return exitOK
}
