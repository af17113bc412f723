package stomp

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/tethermq/tether/server/internal/broker"
)

// BenchmarkGroups4Consumers: one producer, 4 client-individual consumers,
// 1 KiB, with 1,000 message groups and without; the ratio of the two is
// what message groups cost on the broker.
func BenchmarkGroups4Consumers(b *testing.B) {
	for _, groups := range []int{0, 1000} {
		b.Run("groups="+strconv.Itoa(groups), func(b *testing.B) {
			tb := startBroker(b, broker.Config{}, Options{})
			q := "/queue/gb-" + strconv.Itoa(groups)
			var got atomic.Int64
			for range 4 {
				c, err := gostomp.Dial("tcp", tb.addr, gostomp.ConnOpt.HeartBeat(0, 0), gostomp.ConnOpt.Logger(nopLogger{}),
					gostomp.ConnOpt.WriteChannelCapacity(300))
				if err != nil {
					b.Fatal(err)
				}
				defer c.MustDisconnect()
				s, err := c.Subscribe(q, gostomp.AckClientIndividual, gostomp.SubscribeOpt.Header("activemq.prefetchSize", "100"))
				if err != nil {
					b.Fatal(err)
				}
				go func() {
					for m := range s.C {
						if m.Err != nil || c.Ack(m) != nil {
							return
						}
						got.Add(1)
					}
				}()
			}
			p := benchDial(b, tb.addr)
			body := make([]byte, 1024)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var opts []func(*frameT) error
				if groups > 0 {
					opts = append(opts, gostomp.SendOpt.Header("JMSXGroupID", "g"+strconv.Itoa(i%groups)))
				}
				if err := p.Send(q, "", body, opts...); err != nil {
					b.Fatal(err)
				}
			}
			deadline := time.Now().Add(60 * time.Second)
			for got.Load() < int64(b.N) {
				if time.Now().After(deadline) {
					b.Fatalf("consumed %d of %d", got.Load(), b.N)
				}
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
