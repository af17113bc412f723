package amqp_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/client/amqp"
	"github.com/tethermq/tether/failover/session"
	"github.com/tethermq/tether/server"
)

// exampleBroker starts an in-process tether broker with an AMQP connector on
// a free loopback port and returns its amqp:// URI.
func exampleBroker() (uri string, stop func()) {
	dir, err := os.MkdirTemp("", "tether-example-")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.Start(context.Background(), server.Config{
		BrokerName:          "example",
		DataDirectory:       dir,
		TransportConnectors: []server.Connector{{Name: "amqp", URI: "amqp://127.0.0.1:0"}},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		log.Fatal(err)
	}
	return "amqp://" + srv.Addr("amqp"), func() { srv.Close(); os.RemoveAll(dir) }
}

// Applications use AMQP through client.Dial: the amqp:// scheme picks this
// adapter, and failover:(amqp://a:5672,amqp://b:5672) fails over between
// brokers with duplicate ids on every send.
func Example() {
	uri, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	conn, err := client.Dial(ctx, "failover:("+uri+")?randomize=false")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	sub, err := conn.Subscribe(ctx, "queue://orders", client.AckIndividual, client.Prefetch(10))
	if err != nil {
		log.Fatal(err)
	}
	// Confirmed by the broker's Accepted outcome, after it is on disk.
	if err := conn.Send(ctx, "queue://orders", []byte("order 42"), client.Persistent(), client.Group("customer-17")); err != nil {
		log.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(m.Body()), m.GroupID(), m.DuplicateID() != "")
	fmt.Println("ack:", m.Ack(ctx))
	_, err = conn.Begin(ctx)
	fmt.Println("transactions:", err)
	// Output:
	// order 42 customer-17 true
	// ack: <nil>
	// transactions: failover: begin: amqp: transactions: not supported by this protocol
}

// The Dialer is the session.Dialer the failover engine drives; it can be
// used alone for one connection to one broker.
func ExampleDialer() {
	uri, stop := exampleBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, _ := url.Parse(uri + "?amqp.idleTimeout=20000")
	s, err := amqp.Dialer{}.Dial(ctx, session.Target{URI: u, Config: session.Config{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(ctx)

	conf, err := s.Send(ctx, &session.Outgoing{
		Destination: session.Destination{Kind: session.Queue, Name: "jobs"},
		Body:        []byte("job"), Persistent: true, Priority: -1, Confirm: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("confirmed:", <-conf == nil)
	// Output: confirmed: true
}
