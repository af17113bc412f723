// Command cluster runs the four-broker network of the seed on this machine
// and pushes traffic through it: two shared-store master/slave pairs,
// {a1,a2} and {b1,b2}, with A bridged to B by
//
//	masterslave:(tcp://b1,tcp://b2)?duplex=true
//
// on both a1 and a2 (only the master of a pair runs its connectors).
//
//	go run ./examples/cluster
//
// It sends 50 persistent messages to A, consumes 20 on B (A forwards them
// on B's demand) and 20 on A (the duplex bridge brings B's back), kills
// A's master with SIGKILL, waits for A's slave to take over and re-form the
// bridge, sends 50 more and consumes on A and B until all 100 arrived, then
// checks that each arrived exactly once. Every broker is a child process
// (this same program, started with -broker), so the kill is a real one.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	brokerMode := flag.Bool("broker", false, "run one broker (used by the demo for its child processes)")
	name := flag.String("name", "", "broker: name")
	dir := flag.String("dir", "", "broker: data directory")
	port := flag.Int("port", 0, "broker: STOMP port on 127.0.0.1")
	admin := flag.Int("admin", 0, "broker: admin port on 127.0.0.1")
	networkURI := flag.String("network", "", "broker: network connector, in --network-connector form")
	verbose := flag.Bool("v", false, "demo: show the brokers' logs")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *brokerMode {
		if err := runBroker(ctx, *name, *dir, *port, *admin, *networkURI); err != nil {
			log.Fatalf("broker %s: %v", *name, err)
		}
		return
	}
	if err := runDemo(ctx, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}
