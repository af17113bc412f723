package network_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/server"
	"github.com/tethermq/tether/server/network"
)

// Two brokers, A bridged to B by a static: network connector. A message
// sent to A is forwarded to B, where its consumer is, and carries A in its
// broker path.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var dirs []string
	defer func() {
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}()
	start := func(name string, connectors ...network.Options) *server.Server {
		dir, err := os.MkdirTemp("", "example-"+name+"-")
		if err != nil {
			panic(err)
		}
		dirs = append(dirs, dir)
		cfg := server.Default()
		cfg.BrokerName, cfg.DataDirectory, cfg.AdminAddress = name, dir, ""
		cfg.TransportConnectors = []server.Connector{{Name: "native", URI: "tcp://127.0.0.1:0"}}
		cfg.NetworkConnectors = connectors
		srv, err := server.Start(ctx, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			panic(err)
		}
		return srv
	}
	b := start("B")
	toB := network.Defaults() // name NC, networkTTL 1, prefetch 1000, ...
	toB.URI = "static:(tcp://" + b.Addr("native") + ")"
	a := start("A", toB)
	defer func() {
		a.Close()
		b.Close()
	}()

	onB, err := client.Dial(ctx, "tcp://"+b.Addr("native"))
	if err != nil {
		panic(err)
	}
	defer onB.Close()
	orders, err := onB.Subscribe(ctx, "queue://orders")
	if err != nil {
		panic(err)
	}
	onA, err := client.Dial(ctx, "tcp://"+a.Addr("native"))
	if err != nil {
		panic(err)
	}
	defer onA.Close()
	if err := onA.Send(ctx, "queue://orders", []byte("order 1"), client.Persistent()); err != nil {
		panic(err)
	}
	m, err := orders.Next(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s reached B through %s\n", m.Body(), m.Header("tether-broker-path"))
	// Output: order 1 reached B through A
}

// The --network-connector flag form: the connector URI, with
// <networkConnector> attributes in its query.
func ExampleParseFlag() {
	o, err := network.ParseFlag("masterslave:(tcp://b1:61616,tcp://b2:61616)?duplex=true&name=toB&initialReconnectDelay=500")
	if err != nil {
		panic(err)
	}
	fmt.Println(o.Name, o.Duplex, o.NetworkTTL, o.PrefetchSize)
	fmt.Println(o.URI)
	// Output:
	// toB true 1 1000
	// masterslave:(tcp://b1:61616,tcp://b2:61616)?initialReconnectDelay=500
}
