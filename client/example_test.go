package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/server"
)

// exampleBroker starts an in-process tether broker on a free loopback port
// for the examples, and returns its tcp:// URI.
func exampleBroker() (uri string, stop func()) {
	dir, err := os.MkdirTemp("", "tether-example-")
	if err != nil {
		log.Fatal(err)
	}
	srv, err := server.Start(context.Background(), server.Config{
		BrokerName:          "example",
		DataDirectory:       dir,
		TransportConnectors: []server.Connector{{Name: "stomp", URI: "stomp://127.0.0.1:0"}},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		log.Fatal(err)
	}
	return "tcp://" + srv.Addr("stomp"), func() { srv.Close(); os.RemoveAll(dir) }
}

func ExampleDial() {
	uri, stop := exampleBroker()
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// In production: failover:(tcp://amq1:61616,tcp://amq2:61616)
	conn, err := client.Dial(ctx, "failover:("+uri+")?timeout=5000")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	fmt.Println("connected:", conn.URI() == uri)
	// Output: connected: true
}

func ExampleConn_Send() {
	uri, stop := exampleBroker()
	defer stop()
	ctx := context.Background()
	conn, err := client.Dial(ctx, uri)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	// Send returns once the broker confirmed the message; a failover in
	// between re-sends it with the same duplicate id.
	err = conn.Send(ctx, "queue://orders", []byte(`{"id":42}`),
		client.Persistent(),
		client.Priority(7),
		client.TTL(time.Hour),
		client.Group("customer-17"),
		client.Headers(map[string]string{"type": "order.created"}),
	)
	fmt.Println("sent:", err == nil, "confirmed:", conn.Stats().Sent)
	// Output: sent: true confirmed: 1
}

func ExampleConn_Subscribe() {
	uri, stop := exampleBroker()
	defer stop()
	ctx := context.Background()
	conn, err := client.Dial(ctx, uri)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	// The subscription is re-created with these options after every
	// reconnect.
	sub, err := conn.Subscribe(ctx, "queue://orders", client.AckIndividual, client.Prefetch(10), client.Selector("event = 'order.created'"))
	if err != nil {
		log.Fatal(err)
	}
	if err := conn.Send(ctx, "queue://orders", []byte("hello"), client.Headers(map[string]string{"event": "order.created"})); err != nil {
		log.Fatal(err)
	}
	msg, err := sub.Next(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(msg.Destination(), string(msg.Body()), msg.Header("event"))
	// Ack returns once the broker confirmed it. If the connection drops
	// first, the redelivery is dropped instead of handed over again.
	if err := msg.Ack(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: queue://orders hello order.created
}

func ExampleSubscription_C() {
	uri, stop := exampleBroker()
	defer stop()
	ctx := context.Background()
	conn, err := client.Dial(ctx, uri)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	sub, err := conn.Subscribe(ctx, "topic://prices")
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range []string{"101", "102"} {
		if err := conn.Send(ctx, "topic://prices", []byte(p)); err != nil {
			log.Fatal(err)
		}
	}
	for range 2 {
		msg := <-sub.C()
		fmt.Println(string(msg.Body()))
	}
	// Output:
	// 101
	// 102
}

func ExampleConn_Begin() {
	uri, stop := exampleBroker()
	defer stop()
	ctx := context.Background()
	conn, err := client.Dial(ctx, uri)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	tx, err := conn.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, line := range []string{"debit", "credit"} {
		if err := tx.Send(ctx, "queue://ledger", []byte(line), client.Persistent()); err != nil {
			log.Fatal(err)
		}
	}
	err = tx.Commit(ctx)
	switch {
	case errors.Is(err, client.ErrTxRolledBack):
		fmt.Println("a failover rolled it back: redo the work")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("committed")
	}
	// Output: committed
}

func ExampleWithEventHandler() {
	uri, stop := exampleBroker()
	defer stop()
	events := make(chan client.Event, 8)
	conn, err := client.Dial(context.Background(), uri,
		client.WithEventHandler(func(e client.Event) {
			// Interrupted, Resumed (with the broker), ReconnectFailed (with
			// the attempt and error), Resent, DuplicateDropped, Failed.
			events <- e
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	e := <-events
	fmt.Println(e.Kind, e.URI == uri)
	// Output: connected true
}

// Headers also configures a subscription, for broker features that have no
// option of their own: here ActiveMQ's activemq.noLocal, so that a topic
// subscriber does not get what its own connection publishes.
func ExampleHeaders_subscription() {
	uri, stop := exampleBroker()
	defer stop()
	ctx := context.Background()
	conn, err := client.Dial(ctx, uri)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	peer, err := client.Dial(ctx, uri)
	if err != nil {
		log.Fatal(err)
	}
	defer peer.Close()

	sub, err := conn.Subscribe(ctx, "topic://prices", client.Headers(map[string]string{"activemq.noLocal": "true"}))
	if err != nil {
		log.Fatal(err)
	}
	if err := conn.Send(ctx, "topic://prices", []byte("mine")); err != nil {
		log.Fatal(err)
	}
	if err := peer.Send(ctx, "topic://prices", []byte("theirs")); err != nil {
		log.Fatal(err)
	}
	msg, err := sub.Next(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(msg.Body()))
	// Output: theirs
}
