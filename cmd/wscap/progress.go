package main

import (
	"fmt"
	"io"
	"time"
)

// progress draws a progress line on a terminal's stderr while a large file
// is read: bytes read of the total, packets and messages. It is never drawn
// on a pipe, so it never mixes into output.
type progress struct {
	w        io.Writer
	total    int64
	bytes    func() int64
	packets  func() int64
	messages func() int64
	stop     chan struct{}
	done     chan struct{}
}

// progressMinSize is the smallest file that gets a progress line.
const progressMinSize = 8 << 20

func startProgress(w io.Writer, total int64, bytes, packets, messages func() int64) *progress {
	p := &progress{w: w, total: total, bytes: bytes, packets: packets, messages: messages, stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *progress) run() {
	defer close(p.done)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			fmt.Fprintf(p.w, "\r\x1b[K")
			return
		case <-t.C:
			done := p.bytes()
			frac := float64(done) / float64(max(p.total, 1))
			const width = 30
			n := min(int(frac*width), width)
			bar := make([]byte, width)
			for i := range bar {
				bar[i] = ' '
				if i < n {
					bar[i] = '='
				}
			}
			fmt.Fprintf(p.w, "\r\x1b[K[%s] %3.0f%% %d/%d MB, %d packets, %d messages", bar, 100*frac, done>>20, p.total>>20, p.packets(), p.messages())
		}
	}
}

func (p *progress) end() {
	close(p.stop)
	<-p.done
}
