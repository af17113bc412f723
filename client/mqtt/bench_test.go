package mqtt_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/tethermq/tether/client"
)

// BenchmarkThroughput measures end-to-end throughput of 1 KiB QoS 1
// messages (persistent, each send confirmed by PUBACK, each delivery acked)
// through the SDK (client.Dial over this adapter) and through raw paho at
// the same concurrency, against tether's broker in process and, when their
// addresses are set, against other brokers in the same run:
//
//	TETHER_BENCH_MOSQUITTO=127.0.0.1:21883 TETHER_BENCH_ACTIVEMQ=127.0.0.1:21884 \
//	  go test -run XXX -bench Throughput -benchtime 4000x ./client/mqtt/
//
// The consumer has a persistent session (a client id), so its subscription
// is durable and every broker stores the messages it sends it. msg/s counts
// messages received by the consumer per second of wall time.
func BenchmarkThroughput(b *testing.B) {
	tb := startBroker(b, "bench")
	targets := []struct{ name, addr string }{{"tether", tb.Addr()}}
	for _, env := range []struct{ name, key string }{{"mosquitto", "TETHER_BENCH_MOSQUITTO"}, {"activemq", "TETHER_BENCH_ACTIVEMQ"}} {
		if addr := os.Getenv(env.key); addr != "" {
			targets = append(targets, struct{ name, addr string }{env.name, addr})
		}
	}
	for _, tg := range targets {
		for _, producers := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/producers=%d/sdk", tg.name, producers), func(b *testing.B) { benchSDK(b, tg.addr, producers) })
			b.Run(fmt.Sprintf("%s/producers=%d/paho", tg.name, producers), func(b *testing.B) { benchPaho(b, tg.addr, producers) })
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

func benchNames(prefix string) (clientID, topic string) {
	n := benchSeq.Add(1)
	return fmt.Sprintf("tether-bench-%s-%d-%d", prefix, os.Getpid(), n), fmt.Sprintf("bench/%s/%d/%d", prefix, os.Getpid(), n)
}

func benchSDK(b *testing.B, addr string, producers int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	id, topic := benchNames("sdk")
	dest := "topic://" + destination(topic)
	consumer, _ := dialConn(b, "mqtt://"+addr, client.WithClientID(id))
	producer, _ := dialConn(b, "mqtt://"+addr)
	sub, err := consumer.Subscribe(ctx, dest, client.AckIndividual)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe(ctx) // ends the durable subscription
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

// destination maps an MQTT topic to tether's name form (a/b is a.b).
func destination(topic string) string {
	out := []byte(topic)
	for i, c := range out {
		if c == '/' {
			out[i] = '.'
		}
	}
	return string(out)
}

func benchPaho(b *testing.B, addr string, producers int) {
	id, topic := benchNames("paho")
	connect := func(id string, clean bool) paho.Client {
		c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
			SetCleanSession(clean).SetAutoReconnect(false).SetProtocolVersion(4))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("paho connect %s: %v", addr, tok.Error())
		}
		return c
	}
	consumer, producer := connect(id, false), connect(id+"-p", true)
	defer producer.Disconnect(100)
	received := make(chan struct{}, 1<<16)
	// paho acks (PUBACK) when the handler returns.
	tok := consumer.Subscribe(topic, 1, func(paho.Client, paho.Message) { received <- struct{}{} })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("paho subscribe: %v", tok.Error())
	}
	defer func() {
		consumer.Unsubscribe(topic).WaitTimeout(10 * time.Second)
		consumer.Disconnect(100)
	}()
	benchRun(b, producers,
		func() error {
			t := producer.Publish(topic, 1, false, payload)
			if !t.WaitTimeout(time.Minute) {
				return fmt.Errorf("no PUBACK within a minute")
			}
			return t.Error()
		},
		func() error {
			select {
			case <-received:
				return nil
			case <-time.After(time.Minute):
				return fmt.Errorf("no message within a minute")
			}
		})
}
