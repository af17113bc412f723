package amqp

import (
	"context"
	"testing"
	"time"

	goamqp "github.com/Azure/go-amqp"
)

// BenchmarkSendReceive: one go-amqp sender and one receiver on separate
// connections, 1 KiB bodies, at-least-once both ways (unsettled sends
// confirmed by the broker, unsettled deliveries accepted by the
// receiver). The sender keeps up to 500 sends unconfirmed. Reports msgs/s
// end to end; the durable variant waits for fsync before each Accepted.
func BenchmarkSendReceive(b *testing.B) {
	for _, durable := range []bool{false, true} {
		name := "non-persistent"
		if durable {
			name = "persistent"
		}
		b.Run(name, func(b *testing.B) { benchSendReceive(b, durable) })
	}
}

func benchSendReceive(b *testing.B, durable bool) {
	e := startEnv(b, Options{}, "")
	snd := e.sender(e.session(e.dial(nil)), "bench", nil)
	rcv := e.receiver(e.session(e.dial(nil)), "bench", &goamqp.ReceiverOptions{Credit: 1000})
	body := make([]byte, 1024)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	received := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	go func() {
		for range b.N {
			m, err := rcv.Receive(ctx, nil)
			if err == nil {
				err = rcv.AcceptMessage(ctx, m)
			}
			if err != nil {
				received <- err
				return
			}
		}
		received <- nil
	}()
	const window = 500
	receipts := make(chan goamqp.SendReceipt, window)
	confirmed := make(chan error, 1)
	go func() {
		for range b.N {
			r := <-receipts
			st, err := r.Wait(ctx)
			if err == nil {
				if _, ok := st.(*goamqp.StateAccepted); !ok {
					err = context.Canceled
				}
			}
			if err != nil {
				confirmed <- err
				return
			}
		}
		confirmed <- nil
	}()
	for range b.N {
		m := goamqp.NewMessage(body)
		m.Header = &goamqp.MessageHeader{Durable: durable}
		r, err := snd.SendWithReceipt(ctx, m, nil)
		if err != nil {
			b.Fatal(err)
		}
		receipts <- r
	}
	if err := <-confirmed; err != nil {
		b.Fatalf("confirm: %v", err)
	}
	if err := <-received; err != nil {
		b.Fatalf("receive: %v", err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
