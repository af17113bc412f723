package client_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/go-stomp/stomp/v3"
	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/failover"
)

// The send+receive benchmarks compare the SDK with raw go-stomp on the same
// broker: one 1 KiB message per iteration, sent and then received on a
// subscription of the same connection. "confirmed" sends wait for the
// broker's receipt in both (go-stomp: stomp.SendOpt.Receipt), which is the
// SDK's default; "unconfirmed" sends do not (SDK: Unconfirmed()).
//
//	go test -run XXX -bench SendReceive -benchtime 4000x -count 10 ./client/

var payload = bytes.Repeat([]byte("x"), 1024)

func BenchmarkSendReceive(b *testing.B) {
	br := startBroker(b, "bench")
	addr := br.Addr()
	for _, persistent := range []bool{false, true} {
		for _, confirmed := range []bool{true, false} {
			if persistent && !confirmed {
				continue // persistent sends are always confirmed
			}
			name := fmt.Sprintf("persistent=%v/confirmed=%v", persistent, confirmed)
			b.Run(name+"/tether", func(b *testing.B) { benchTether(b, br.uri(), persistent, confirmed) })
			b.Run(name+"/go-stomp", func(b *testing.B) { benchGoStomp(b, addr, persistent, confirmed, false) })
			b.Run(name+"/go-stomp+dupid", func(b *testing.B) { benchGoStomp(b, addr, persistent, confirmed, true) })
		}
	}
}

func benchTether(b *testing.B, uri string, persistent, confirmed bool) {
	ctx := context.Background()
	c, _ := dial(b, uri)
	dest := "queue://bench-tether-" + b.Name()
	sub, err := c.Subscribe(ctx, dest)
	if err != nil {
		b.Fatal(err)
	}
	var opts []client.SendOption
	if persistent {
		opts = append(opts, client.Persistent())
	}
	if !confirmed {
		opts = append(opts, client.Unconfirmed())
	}
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for range b.N {
		if err := c.Send(ctx, dest, payload, opts...); err != nil {
			b.Fatal(err)
		}
		if _, err := sub.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// benchGoStomp with dupID adds the _AMQ_DUPL_ID header tether puts on every
// send, so that the broker does the same work and the difference left is
// the SDK's own.
func benchGoStomp(b *testing.B, addr string, persistent, confirmed, dupID bool) {
	conn, err := stomp.Dial("tcp", addr, stomp.ConnOpt.Logger(quietLogger{}))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Disconnect()
	dest := "/queue/bench-gostomp-" + b.Name()
	sub, err := conn.Subscribe(dest, stomp.AckAuto)
	if err != nil {
		b.Fatal(err)
	}
	var opts []func(*frameT) error
	if persistent {
		opts = append(opts, stomp.SendOpt.Header("persistent", "true"))
	}
	if confirmed {
		opts = append(opts, stomp.SendOpt.Receipt)
	}
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for range b.N {
		sendOpts := opts
		if dupID {
			sendOpts = append(opts[:len(opts):len(opts)], stomp.SendOpt.Header("_AMQ_DUPL_ID", failover.NewDuplicateID()))
		}
		if err := conn.Send(dest, "", payload, sendOpts...); err != nil {
			b.Fatal(err)
		}
		m := <-sub.C
		if m.Err != nil {
			b.Fatal(m.Err)
		}
	}
}

// quietLogger silences go-stomp's log of the subscription closing at
// Disconnect.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any)   {}
func (quietLogger) Infof(string, ...any)    {}
func (quietLogger) Warningf(string, ...any) {}
func (quietLogger) Errorf(string, ...any)   {}
func (quietLogger) Debug(string)            {}
func (quietLogger) Info(string)             {}
func (quietLogger) Warning(string)          {}
func (quietLogger) Error(string)            {}

// BenchmarkEndToEnd is benchcompare's scenario (a) in one process: 1 KiB
// non-persistent messages, one producer and one consumer connection, the
// clock stopping when the consumer has them all. go-stomp sends without
// receipts (as in server/internal/stomp's bench); the SDK's pipelined send asks a
// confirmation for every message, with up to the send window in flight; the
// SDK's Unconfirmed send asks none. Report msgs/s of each against
// go-stomp's from the same run:
//
//	go test -run XXX -bench EndToEnd -benchtime 100000x -count 3 ./client/
func BenchmarkEndToEnd(b *testing.B) {
	br := startBroker(b, "bench-e2e")
	b.Run("go-stomp", func(b *testing.B) { endToEndGoStomp(b, br.Addr()) })
	b.Run("tether-SendAsync", func(b *testing.B) { endToEndTether(b, br.uri(), true) })
	b.Run("tether-Unconfirmed", func(b *testing.B) { endToEndTether(b, br.uri(), false) })
}

func endToEndGoStomp(b *testing.B, addr string) {
	dial := func() *stomp.Conn {
		c, err := stomp.Dial("tcp", addr, stomp.ConnOpt.HeartBeat(0, 0), stomp.ConnOpt.Logger(quietLogger{}))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Disconnect() })
		return c
	}
	p, c := dial(), dial()
	dest := "/queue/e2e-gostomp-" + fmt.Sprint(b.N)
	sub, err := c.Subscribe(dest, stomp.AckAuto)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	go func() {
		for range b.N {
			if m := <-sub.C; m.Err != nil {
				done <- m.Err
				return
			}
		}
		done <- nil
	}()
	for range b.N {
		if err := p.Send(dest, "application/octet-stream", payload); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func endToEndTether(b *testing.B, uri string, pipelined bool) {
	ctx := context.Background()
	p, _ := dial(b, uri, client.WithHeartBeat(0, 0))
	c, _ := dial(b, uri, client.WithHeartBeat(0, 0))
	dest := fmt.Sprintf("queue://e2e-tether-%v-%d", pipelined, b.N)
	sub, err := c.Subscribe(ctx, dest)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	go func() {
		for range b.N {
			if _, err := sub.Next(ctx); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var last *client.PendingSend
	for range b.N {
		var err error
		if pipelined {
			last, err = p.SendAsync(ctx, dest, payload)
		} else {
			err = p.Send(ctx, dest, payload, client.Unconfirmed())
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if last != nil {
		if err := last.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
