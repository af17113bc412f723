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
