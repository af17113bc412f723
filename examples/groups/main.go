// Command groups shows message groups end to end: orders of 20 customers
// are sent with the customer as JMSXGroupID, and three consumers process
// them through ordered dispatchers. Each customer's orders are handled one
// at a time and in order, while different customers are handled in
// parallel, across consumers and across worker goroutines.
//
//	go run ./examples/groups                      # starts a broker in-process
//	go run ./examples/groups -uri tcp://127.0.0.1:61616
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/groups"
	"github.com/tethermq/tether/server"
)

func main() {
	uri := flag.String("uri", "", "broker URI (default: start a broker in this process)")
	customers := flag.Int("customers", 20, "number of customers (message groups)")
	orders := flag.Int("orders", 25, "orders per customer")
	flag.Parse()
	if err := run(*uri, *customers, *orders); err != nil {
		fmt.Fprintln(os.Stderr, "groups:", err)
		os.Exit(1)
	}
}

func run(uri string, customers, orders int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if uri == "" {
		addr, stop, err := startBroker(ctx)
		if err != nil {
			return err
		}
		defer stop()
		uri = "tcp://" + addr
	}
	var (
		mu      sync.Mutex
		last    = map[string]int{}
		byCons  = map[string]map[string]bool{}
		handled int
		wrong   []string
	)
	total := customers * orders
	allDone := make(chan struct{})
	consume := func(name string) error {
		c, err := client.Dial(ctx, uri)
		if err != nil {
			return err
		}
		defer c.Close()
		sub, err := c.Subscribe(ctx, "queue://orders", client.AckIndividual, client.Prefetch(20))
		if err != nil {
			return err
		}
		err = sub.Dispatch(ctx, func(ctx context.Context, m *client.Message) error {
			customer := m.GroupID()
			n, _ := strconv.Atoi(strings.TrimPrefix(string(m.Body()), "order-"))
			mu.Lock()
			defer mu.Unlock()
			if n != last[customer]+1 {
				wrong = append(wrong, fmt.Sprintf("%s: order %d after %d", customer, n, last[customer]))
			}
			last[customer] = n
			if byCons[name] == nil {
				byCons[name] = map[string]bool{}
			}
			byCons[name][customer] = true
			if handled++; handled == total {
				close(allDone)
			}
			return nil
		}, groups.Options{Workers: 4})
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	errs := make(chan error, 3)
	for i := range 3 {
		go func() { errs <- consume("consumer-" + strconv.Itoa(i+1)) }()
	}
	p, err := client.Dial(ctx, uri)
	if err != nil {
		return err
	}
	defer p.Close()
	for o := 1; o <= orders; o++ {
		for c := range customers {
			customer := fmt.Sprintf("customer-%02d", c)
			if err := p.Send(ctx, "queue://orders", []byte("order-"+strconv.Itoa(o)),
				client.Persistent(), client.Group(customer)); err != nil {
				return err
			}
		}
	}
	select {
	case <-allDone:
	case err := <-errs:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	for name, cs := range byCons {
		fmt.Printf("%s handled %d customers\n", name, len(cs))
	}
	if len(wrong) > 0 {
		return fmt.Errorf("orders out of order: %v", wrong)
	}
	fmt.Printf("%d orders of %d customers handled, each customer's orders in order\n", total, customers)
	return nil
}

func startBroker(ctx context.Context) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "groups-example-")
	if err != nil {
		return "", nil, err
	}
	srv, err := server.Start(ctx, server.Config{
		BrokerName: "groups-example", DataDirectory: dir,
		TransportConnectors: []server.Connector{{Name: "stomp", URI: "stomp://" + addr}},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return addr, func() { srv.Close(); os.RemoveAll(dir) }, nil
}
