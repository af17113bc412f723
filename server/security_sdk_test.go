package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
)

// Through the SDK, on each protocol: a send the broker refuses fails with a
// BrokerError (MQTT: is dropped, as 3.1.1 has no refusal), a refused
// subscription fails, and the same Conn then serves what the user may do.
func TestSDKRefusals(t *testing.T) {
	s := startConfig(t, securityConfig(t, nil), nil)
	for _, c := range []struct{ connector, scheme string }{{"stomp", "stomp"}, {"amqp", "amqp"}, {"mqtt", "mqtt"}} {
		t.Run(c.connector, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, err := client.Dial(ctx, "failover:("+c.scheme+"://"+s.Addr(c.connector)+")?timeout=5000",
				client.WithCredentials("eve", "evepw"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var be *client.BrokerError
			if _, err := conn.Subscribe(ctx, "topic://orders.eu"); !errors.As(err, &be) {
				t.Fatalf("refused subscription: %v (%T), want a BrokerError", err, err)
			}
			err = conn.Send(ctx, "topic://orders.eu", []byte("refused"))
			if c.connector != "mqtt" && !errors.As(err, &be) {
				t.Fatalf("refused send: %v (%T), want a BrokerError", err, err)
			}
			sub, err := conn.Subscribe(ctx, "topic://open.sdk")
			if err != nil {
				t.Fatalf("allowed subscription after refusals: %v", err)
			}
			if err := conn.Send(ctx, "topic://open.sdk", []byte("fine")); err != nil {
				t.Fatalf("allowed send after refusals: %v", err)
			}
			m, err := sub.Next(ctx)
			if err != nil || string(m.Body()) != "fine" {
				t.Fatalf("got %v, %v", m, err)
			}
		})
	}
}
