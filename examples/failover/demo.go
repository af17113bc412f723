package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/tethermq/tether/server"
)

// demoPair is two brokers sharing one data directory: the first to take
// its lock is the master; the other waits, with no port open, and takes
// over when the master stops.
type demoPair struct {
	dir   string
	ports [2]int

	mu      sync.Mutex
	master  *server.Server
	slave   *server.Server
	slaveOK chan error
}

func startDemoPair(ctx context.Context) (*demoPair, error) {
	dir, err := os.MkdirTemp("", "tether-failover-demo-")
	if err != nil {
		return nil, err
	}
	p := &demoPair{dir: dir, slaveOK: make(chan error, 1)}
	for i := range p.ports {
		if p.ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	if p.master, err = server.Start(ctx, p.config("master", p.ports[0]), quiet()); err != nil {
		return nil, err
	}
	go func() { // blocks as a slave until the master lets go
		s, err := server.Start(ctx, p.config("slave", p.ports[1]), quiet())
		p.mu.Lock()
		p.slave = s
		p.mu.Unlock()
		p.slaveOK <- err
	}()
	return p, nil
}

func (p *demoPair) config(name string, port int) server.Config {
	return server.Config{
		BrokerName:          name,
		DataDirectory:       p.dir,
		TransportConnectors: []server.Connector{{Name: "stomp", URI: fmt.Sprintf("stomp://127.0.0.1:%d", port)}},
	}
}

// uri lists the master first; randomize=false keeps that order.
func (p *demoPair) uri() string {
	return fmt.Sprintf("failover:(tcp://127.0.0.1:%d,tcp://127.0.0.1:%d)?randomize=false&maxReconnectDelay=1000", p.ports[0], p.ports[1])
}

// stopMaster stops the master; the slave takes the lock and opens its port.
func (p *demoPair) stopMaster() {
	fmt.Println("demo: stopping the master")
	p.master.Close()
}

func (p *demoPair) close() {
	p.master.Close()
	p.mu.Lock()
	if p.slave != nil {
		p.slave.Close()
	}
	p.mu.Unlock()
	os.RemoveAll(p.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }
