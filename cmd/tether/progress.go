package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progressBar redraws one status line on a terminal until stopped. Its
// goroutine is owned by the bar: stop ends it and waits for it.
type progressBar struct {
	w      io.Writer
	status func() (fraction float64, text string)
	quit   chan struct{}
	wg     sync.WaitGroup
}

const progressWidth = 30

// startProgress draws status every interval on w (a terminal).
func startProgress(w io.Writer, interval time.Duration, status func() (float64, string)) *progressBar {
	p := &progressBar{w: w, status: status, quit: make(chan struct{})}
	p.wg.Add(1)
	go p.loop(interval)
	return p
}

func (p *progressBar) loop(interval time.Duration) {
	defer p.wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-p.quit:
			fmt.Fprint(p.w, "\r\033[K") // leave a clean line for the report
			return
		case <-tick.C:
			f, text := p.status()
			fmt.Fprintf(p.w, "\r\033[K%s %s", bar(f), text)
		}
	}
}

// stop erases the bar and returns once its goroutine ended.
func (p *progressBar) stop() {
	close(p.quit)
	p.wg.Wait()
}

// bar renders fraction f (clamped to 0..1) as [#####.....] NN%.
func bar(f float64) string {
	f = max(0, min(1, f))
	n := int(f * progressWidth)
	return fmt.Sprintf("[%s%s] %3.0f%%", strings.Repeat("#", n), strings.Repeat(".", progressWidth-n), f*100)
}

// progress is the status line of a run: how far it is and the rates so far.
func (r *benchRun) progress() (float64, string) {
	elapsed := time.Since(r.start)
	sent, recv := r.sent.Load(), r.received.Load()
	var f float64
	switch t := r.target.Load(); {
	case t > 0:
		f = float64(recv) / float64(t)
	case r.sc.Count > 0:
		f = float64(sent) / float64(r.sc.Count)
	case r.sc.duration > 0:
		f = elapsed.Seconds() / r.sc.duration.Seconds()
	}
	secs := max(elapsed.Seconds(), 1e-9)
	text := fmt.Sprintf("sent %d (%.0f/s)", sent, float64(sent)/secs)
	if r.sc.Consumers > 0 {
		text += fmt.Sprintf("  received %d (%.0f/s)", recv, float64(recv)/secs)
	}
	return f, text
}
