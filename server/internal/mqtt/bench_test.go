package mqtt

import (
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// benchPublishReceive measures paho QoS 1 publish + receive of 1 KiB
// messages through the connector, keeping a window of publishes in flight
// as an application that does not wait for each PUBACK would.
func benchPublishReceive(b *testing.B, clean bool) {
	e := newEnv(b, Options{})
	var got atomic.Int64
	all := make(chan struct{})
	n := int64(b.N)
	handler := func(_ paho.Client, _ paho.Message) {
		if got.Add(1) == n {
			close(all)
		}
	}
	sub := e.client(b, "bench-sub", clean, nil)
	waitToken(b, sub.Subscribe("bench/t", 1, handler))
	pub := e.client(b, "bench-pub", true, nil)
	payload := make([]byte, 1024)
	const window = 500
	tokens := make([]paho.Token, 0, window)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for range b.N {
		if len(tokens) == window {
			waitToken(b, tokens[0])
			tokens = tokens[1:]
		}
		tokens = append(tokens, pub.Publish("bench/t", 1, false, payload))
	}
	for _, tok := range tokens {
		waitToken(b, tok)
	}
	select {
	case <-all:
	case <-time.After(time.Minute):
		b.Fatalf("received %d of %d", got.Load(), n)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// Subscriber with a clean session: the topic message is routed, not stored.
func BenchmarkQoS1PublishReceive(b *testing.B) { benchPublishReceive(b, true) }

// Subscriber with a persistent session: every message is stored (fsync,
// group commit) in its durable subscription before the PUBACK.
func BenchmarkQoS1PublishReceiveDurable(b *testing.B) { benchPublishReceive(b, false) }
