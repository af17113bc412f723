// Command failover runs a producer and a consumer through tether's failover
// client and prints every connection event (interrupted, resumed, ...).
//
// With no -uri it demonstrates a master change on its own: it starts a
// shared-storage master/slave pair of tether brokers in process, stops the
// master halfway through, and shows the slave taking over while every
// confirmed message is received once:
//
//	go run ./examples/failover
//
// Against your own brokers:
//
//	go run ./examples/failover -uri 'failover:(tcp://amq1:61616,tcp://amq2:61616)' -n 10000
//	go run ./examples/failover -uri '...' -role consumer
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"time"
)

func main() {
	uri := flag.String("uri", "", "failover URI; empty starts an in-process master/slave demo")
	role := flag.String("role", "both", "producer, consumer or both")
	dest := flag.String("dest", "queue://tether.example", "destination")
	n := flag.Int("n", 2000, "messages to send (producer)")
	verbose := flag.Bool("v", false, "log the SDK's own messages")
	flag.Parse()

	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var demo *demoPair
	if *uri == "" {
		var err error
		if demo, err = startDemoPair(ctx); err != nil {
			log.Fatal(err)
		}
		defer demo.close()
		*uri = demo.uri()
		fmt.Println("demo: master/slave pair sharing", demo.dir)
	}
	fmt.Println("connecting to", *uri)

	r := &run{uri: *uri, dest: *dest, total: *n, logger: logger}
	if demo != nil {
		r.halfway = demo.stopMaster
	}
	start := time.Now()
	if err := r.start(ctx, *role); err != nil {
		log.Fatal(err)
	}
	r.report(time.Since(start))
}
