package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/tethermq/tether/client"
)

func ExampleConn_SendAsync() {
	uri, stop := exampleBroker()
	defer stop()
	ctx := context.Background()
	// At most 256 sends await their confirmation; SendAsync waits for room
	// beyond that, so a slow broker slows the producer instead of growing
	// its memory.
	conn, err := client.Dial(ctx, "failover:("+uri+")", client.WithSendWindow(256))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	// Many sends in flight over one connection, written in batches. If the
	// connection drops, every unconfirmed one is re-sent in order with its
	// duplicate id, so the broker stores each once.
	pending := make([]*client.PendingSend, 0, 1000)
	for i := range 1000 {
		p, err := conn.SendAsync(ctx, "queue://orders", fmt.Appendf(nil, "order %d", i), client.Persistent())
		if err != nil {
			log.Fatal(err)
		}
		pending = append(pending, p)
	}
	// Wait for each confirmation (or select on p.Done() among other work).
	for _, p := range pending {
		if err := p.Wait(ctx); err != nil {
			log.Fatalf("%s: %v", p.DuplicateID(), err)
		}
	}
	fmt.Println("confirmed:", conn.Stats().Sent)
	// Output: confirmed: 1000
}
