package mqtt_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/client/mqtt"
	"github.com/tethermq/tether/failover/session"
	"github.com/tethermq/tether/server"
)

// exampleBroker starts an in-process tether broker with an MQTT connector on
// a free loopback port and returns its mqtt:// URI.
func exampleBroker() (uri string, stop func()) {
	dir, err := os.MkdirTemp("", "tether-example-")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.Start(context.Background(), server.Config{
		BrokerName:          "example",
		DataDirectory:       dir,
		TransportConnectors: []server.Connector{{Name: "mqtt", URI: "mqtt://127.0.0.1:0"}},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		log.Fatal(err)
	}
	return "mqtt://" + srv.Addr("mqtt"), func() { srv.Close(); os.RemoveAll(dir) }
}

// Applications use MQTT through client.Dial. A client id makes the MQTT
// session persistent: the broker keeps the subscription and its messages
// while the client fails over. Destinations are topics: topic://a.b is
// MQTT's a/b.
func Example() {
	uri, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	conn, err := client.Dial(ctx, "failover:("+uri+")", client.WithClientID("sensor-reader"))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	sub, err := conn.Subscribe(ctx, "topic://sensors.*", client.AckIndividual)
	if err != nil {
		log.Fatal(err)
	}
	// QoS 1: Send returns at PUBACK.
	if err := conn.Send(ctx, "topic://sensors.kitchen", []byte("21.5"), client.Persistent()); err != nil {
		log.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Destination(), string(m.Body()))
	fmt.Println("ack:", m.Ack(ctx))
	// MQTT 3.1.1 has no headers: a group cannot travel, and says so.
	err = conn.Send(ctx, "topic://sensors.kitchen", []byte("x"), client.Group("g"))
	fmt.Println("group refused:", errors.Is(err, client.ErrUnsupported))
	// Output:
	// topic://sensors.kitchen 21.5
	// ack: <nil>
	// group refused: true
}

// The Dialer is the session.Dialer the failover engine drives; it can be
// used alone for one connection to one broker.
func ExampleDialer() {
	uri, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, _ := url.Parse(uri + "?keepAlive=30")
	s, err := mqtt.Dialer{}.Dial(ctx, session.Target{URI: u, Config: session.Config{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)

	conf, err := s.Send(ctx, &session.Outgoing{
		Destination: session.Destination{Kind: session.Topic, Name: "alerts.fire"},
		Body:        []byte("!"), Persistent: true, Priority: -1, Confirm: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("PUBACK:", <-conf == nil)
	// Output: PUBACK: true
}
