package stomp

import (
	"os"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/server/internal/broker"
)

// The STOMP path benchmarks: 1 KiB, one producer and one consumer (go-stomp
// on both ends). They run against the in-process broker, and also against
// any STOMP broker named by TETHER_BENCH_STOMP (host:port), for example an
// ActiveMQ 5.17 started with ../shared/activemq/start.sh, so both figures
// come from the same run:
//
//	TETHER_BENCH_STOMP=127.0.0.1:30613 go test -run xxx -bench STOMP ./server/internal/stomp/
func benchTargets(b *testing.B) map[string]string {
	tb := startBroker(b, broker.Config{}, Options{})
	t := map[string]string{"tether": tb.addr}
	if a := os.Getenv("TETHER_BENCH_STOMP"); a != "" {
		t["other"] = a
	}
	return t
}

func benchDial(b *testing.B, addr string) *gostomp.Conn {
	c, err := gostomp.Dial("tcp", addr, gostomp.ConnOpt.HeartBeat(0, 0), gostomp.ConnOpt.Logger(nopLogger{}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Disconnect() })
	return c
}

// BenchmarkSTOMPNonPersistentEndToEnd: the producer sends without receipts
// as fast as it can; the clock stops when the consumer has every message.
func BenchmarkSTOMPNonPersistentEndToEnd(b *testing.B) {
	for name, addr := range benchTargets(b) {
		b.Run(name, func(b *testing.B) {
			runEndToEnd(b, addr, false)
		})
	}
}

// BenchmarkSTOMPPersistentReceipt: persistent sends, each waiting for its
// receipt (one in flight), consumed with auto ack.
func BenchmarkSTOMPPersistentReceipt(b *testing.B) {
	for name, addr := range benchTargets(b) {
		b.Run(name, func(b *testing.B) {
			runEndToEnd(b, addr, true)
		})
	}
}

func runEndToEnd(b *testing.B, addr string, persistent bool) {
	q := "/queue/bench-" + time.Now().Format("150405.000000")
	p, c := benchDial(b, addr), benchDial(b, addr)
	s, err := c.Subscribe(q, gostomp.AckAuto)
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, 1024)
	done := make(chan error, 1)
	b.SetBytes(1024)
	b.ResetTimer()
	go func() {
		for i := 0; i < b.N; i++ {
			select {
			case m := <-s.C:
				if m.Err != nil {
					done <- m.Err
					return
				}
			case <-time.After(30 * time.Second):
				done <- errTimeout
				return
			}
		}
		done <- nil
	}()
	opts := []func(*frameT) error{}
	if persistent {
		opts = append(opts, gostomp.SendOpt.Receipt, gostomp.SendOpt.Header("persistent", "true"))
	}
	for i := 0; i < b.N; i++ {
		if err := p.Send(q, "application/octet-stream", body, opts...); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

type frameT = frame.Frame

var errTimeout = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string { return "benchmark: consumer timed out" }
