package mqtt_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/client/mqtt"
	"github.com/tethermq/tether/failover/session"
	"github.com/tethermq/tether/internal/adaptertest"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server"
)

// broker is a tether broker with an MQTT connector on a fixed loopback port
// and data directory, so that it can be stopped and started again in place.
type broker struct {
	t     testing.TB
	name  string
	port  int
	dir   string
	users []server.User // nil: anyone may connect

	mu  sync.Mutex
	srv *server.Server
}

func startBroker(t testing.TB, name string) *broker {
	t.Helper()
	b := &broker{t: t, name: name, port: testutil.FreePort(t), dir: t.TempDir()}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *broker) start() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := server.Start(ctx, server.Config{
		BrokerName:          b.name,
		DataDirectory:       b.dir,
		TransportConnectors: []server.Connector{{Name: "mqtt", URI: fmt.Sprintf("mqtt://127.0.0.1:%d", b.port)}},
		Users:               b.users,
	}, testLogger())
	if err != nil {
		b.t.Fatalf("broker %s: %v", b.name, err)
	}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
}

func (b *broker) stop() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (b *broker) uri() string { return fmt.Sprintf("mqtt://127.0.0.1:%d", b.port) }

// The transport-agnostic helpers live in internal/adaptertest.

type (
	inbox = adaptertest.Inbox
	proxy = adaptertest.Proxy
)

func testLogger() *slog.Logger                              { return adaptertest.Logger() }
func testCtx(t testing.TB, d time.Duration) context.Context { return adaptertest.Ctx(t, d) }
func target(t testing.TB, uri string, cfg session.Config) session.Target {
	return adaptertest.Target(t, uri, cfg)
}

// dial opens a session that the test closes at its end.
func dial(t testing.TB, uri string, cfg session.Config) session.Session {
	t.Helper()
	return adaptertest.Dial(t, mqtt.Dialer{}, uri, cfg)
}

func newInbox() inbox                                          { return adaptertest.NewInbox() }
func q(name string) session.Destination                        { return adaptertest.Q(name) }
func topic(name string) session.Destination                    { return adaptertest.Topic(name) }
func msg(d session.Destination, body string) *session.Outgoing { return adaptertest.Msg(d, body) }
func silentPeer(t testing.TB) string                           { return adaptertest.SilentPeer(t) }
func startProxy(t testing.TB, target string) *proxy            { return adaptertest.StartProxy(t, target) }

func send(t testing.TB, s session.Session, m *session.Outgoing) {
	t.Helper()
	adaptertest.Send(t, s, m)
}

func freePort(t testing.TB) int { return testutil.FreePort(t) }
