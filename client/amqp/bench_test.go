package amqp_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
	"github.com/tethermq/tether/client"
)

// BenchmarkThroughput measures end-to-end throughput of 1 KiB persistent
// messages (each send confirmed by the broker's Accepted, each delivery
// acked with a settled disposition) through the SDK (client.Dial over this
// adapter) and through raw go-amqp at the same concurrency, against
// tether's broker in process and, when TETHER_BENCH_AMQP names another
// AMQP 1.0 broker (host:port), against it in the same run:
//
//	go test -run XXX -bench Throughput -benchtime 4000x ./client/amqp/
//
// msg/s counts messages received by the consumer per second of wall time.
func BenchmarkThroughput(b *testing.B) {
	tb := startBroker(b, "bench")
	targets := []struct{ name, addr string }{{"tether", tb.Addr()}}
	if addr := os.Getenv("TETHER_BENCH_AMQP"); addr != "" {
		targets = append(targets, struct{ name, addr string }{"other", addr})
	}
	for _, tg := range targets {
		for _, producers := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/producers=%d/sdk", tg.name, producers), func(b *testing.B) { benchSDK(b, tg.addr, producers) })
			b.Run(fmt.Sprintf("%s/producers=%d/go-amqp", tg.name, producers), func(b *testing.B) { benchGoAMQP(b, tg.addr, producers) })
		}
	}
}

var payload = bytes.Repeat([]byte("x"), 1024)

// benchRun is one measured stream: producers share b.N sends while the
// consumer takes b.N messages.
func benchRun(b *testing.B, producers int, send func() error, receive func() error) {
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	start := time.Now()
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make(chan error, producers)
	)
	for range producers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := send(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range b.N {
		if err := receive(); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msg/s")
}

var benchSeq atomic.Int64

func benchQueue(prefix string) string {
	return fmt.Sprintf("queue://bench-%s-%d-%d", prefix, os.Getpid(), benchSeq.Add(1))
}

func benchSDK(b *testing.B, addr string, producers int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dest := benchQueue("sdk")
	consumer, _ := dialConn(b, "amqp://"+addr)
	producer, _ := dialConn(b, "amqp://"+addr)
	sub, err := consumer.Subscribe(ctx, dest, client.AckIndividual)
	if err != nil {
		b.Fatal(err)
	}
	benchRun(b, producers,
		func() error { return producer.Send(ctx, dest, payload, client.Persistent()) },
		func() error {
			m, err := sub.Next(ctx)
			if err != nil {
				return err
			}
			return m.Ack(ctx)
		})
}

// benchGoAMQP does what the SDK does on the wire without it: durable
// messages with _AMQ_DUPL_ID sent unsettled and waited for, a receiver with
// credit 1000 settling each delivery in receiver-settle-mode second.
func benchGoAMQP(b *testing.B, addr string, producers int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dest := benchQueue("go-amqp")
	dialOne := func() (*goamqp.Conn, *goamqp.Session) {
		conn, err := goamqp.Dial(ctx, "amqp://"+addr, &goamqp.ConnOptions{SASLType: goamqp.SASLTypeAnonymous()})
		if err != nil {
			b.Fatal(err)
		}
		s, err := conn.NewSession(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		return conn, s
	}
	pc, ps := dialOne()
	defer pc.Close()
	cc, cs := dialOne()
	defer cc.Close()
	snd, err := ps.NewSender(ctx, dest, nil)
	if err != nil {
		b.Fatal(err)
	}
	second := goamqp.ReceiverSettleModeSecond
	rcv, err := cs.NewReceiver(ctx, dest, &goamqp.ReceiverOptions{Credit: 1000, SettlementMode: &second})
	if err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	benchRun(b, producers,
		func() error {
			m := goamqp.NewMessage(payload)
			m.Header = &goamqp.MessageHeader{Durable: true, Priority: 4}
			m.ApplicationProperties = map[string]any{"_AMQ_DUPL_ID": fmt.Sprintf("bench-%d", seq.Add(1))}
			return snd.Send(ctx, m, nil)
		},
		func() error {
			m, err := rcv.Receive(ctx, nil)
			if err != nil {
				return err
			}
			return rcv.AcceptMessage(ctx, m)
		})
}
