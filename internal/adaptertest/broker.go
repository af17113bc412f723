package adaptertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server"
)

// Broker is an in-process tether broker with one connector (scheme stomp,
// amqp or mqtt) on a fixed loopback port and data directory, so that a test
// can stop it and start it again in place.
type Broker struct {
	t      testing.TB
	name   string
	scheme string
	port   int
	dir    string
	users  []server.User // none: anyone may connect

	mu  sync.Mutex
	srv *server.Server
}

// StartBroker starts a Broker that the test stops at its end.
func StartBroker(t testing.TB, name, scheme string, users ...server.User) *Broker {
	t.Helper()
	b := &Broker{t: t, name: name, scheme: scheme, port: testutil.FreePort(t), dir: t.TempDir(), users: users}
	b.Start()
	t.Cleanup(b.Stop)
	return b
}

// Start (re)starts the broker on its port and data directory.
func (b *Broker) Start() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := server.Start(ctx, server.Config{
		BrokerName:          b.name,
		DataDirectory:       b.dir,
		TransportConnectors: []server.Connector{{Name: b.scheme, URI: fmt.Sprintf("%s://%s", b.scheme, b.Addr())}},
		Users:               b.users,
	}, Logger())
	if err != nil {
		b.t.Fatalf("broker %s: %v", b.name, err)
	}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
}

// Stop closes the broker if it runs.
func (b *Broker) Stop() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Addr is the connector's host:port.
func (b *Broker) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }
