package mqtt_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tethermq/tether/client/mqtt"
	"github.com/tethermq/tether/failover/session"
	"github.com/tethermq/tether/internal/adaptertest"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server"
)

// broker is a restartable in-process tether broker (mqtt connector).
type broker struct{ *adaptertest.Broker }

func startBroker(t testing.TB, name string, users ...server.User) *broker {
	t.Helper()
	return &broker{adaptertest.StartBroker(t, name, "mqtt", users...)}
}

func (b *broker) uri() string { return "mqtt://" + b.Addr() }

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
