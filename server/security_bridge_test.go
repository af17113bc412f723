package server

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/auth"
	"github.com/tethermq/tether/server/network"
)

// A network bridge dials the remote broker over ssl:// with a client
// certificate (the broker's own, from its sslContext) and a password, and
// forwards a message to a consumer there; the remote requires both.
func TestBridgeOverTLSWithCredentials(t *testing.T) {
	certs := testutil.NewCerts(t)
	remoteCfg := securityConfig(t, certs)
	remoteCfg.BrokerName = "remote"
	remoteCfg.SSLContext.NeedClientAuth = true
	remoteCfg.Users = append(remoteCfg.Users, User{Username: "bridge", Password: "bridgepw", Groups: auth.Groups{"bridges"}})
	// What a bridge needs: its hello probe topics, and the forwarded
	// destinations (open.> is everyone's); advisories are everyone's.
	remoteCfg.AuthorizationEntries = append(remoteCfg.AuthorizationEntries,
		AuthorizationEntry{Topic: "ActiveMQ.Network.>", Read: auth.Groups{"bridges"}, Write: auth.Groups{"bridges"}, Admin: auth.Groups{"bridges"}})
	remote := startConfig(t, remoteCfg, nil)

	for _, c := range []struct {
		name, password string
		served         bool
	}{{"right password", "bridgepw", true}, {"wrong password", "nope", false}} {
		t.Run(c.name, func(t *testing.T) {
			nc := network.Defaults()
			nc.URI = "static:(ssl://" + remote.Addr("ssl") + ")?initialReconnectDelay=50&maxReconnectDelay=200"
			nc.UserName, nc.Password = "bridge", c.password
			var logs syncBuffer
			local := startConfig(t, Config{
				BrokerName: "local", DataDirectory: t.TempDir(),
				TransportConnectors: []Connector{{Name: "stomp", URI: "stomp://127.0.0.1:0"}},
				SSLContext:          &SSLContext{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile},
				NetworkConnectors:   []network.Options{nc},
			}, slog.New(slog.NewTextHandler(&logs, nil)))
			ctx := testCtx(t)
			consumer, err := client.Dial(ctx, "stomp://"+remote.Addr("stomp"), client.WithCredentials("eve", "evepw"))
			if err != nil {
				t.Fatal(err)
			}
			defer consumer.Close()
			sub, err := consumer.Subscribe(ctx, "queue://open.bridged")
			if err != nil {
				t.Fatal(err)
			}
			if !c.served {
				// the bridge keeps failing to log in: it never comes up
				testutil.Eventually(t, 10*time.Second, func() bool {
					return strings.Contains(logs.String(), `authentication failed for user \"bridge\"`)
				}, "the bridge logged no login refusal")
				for _, b := range local.NetworkBridges() {
					if b.Remote != "" {
						t.Fatalf("a bridge with a wrong password was established: %+v", b)
					}
				}
				return
			}
			producer, err := client.Dial(ctx, "stomp://"+local.Addr("stomp"))
			if err != nil {
				t.Fatal(err)
			}
			defer producer.Close()
			// The bridge learns of the remote consumer from advisories;
			// until then the message waits here, then moves.
			if err := producer.Send(ctx, "queue://open.bridged", []byte("over the TLS bridge"), client.Persistent()); err != nil {
				t.Fatal(err)
			}
			m, err := sub.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Body()) != "over the TLS bridge" {
				t.Fatalf("got %q", m.Body())
			}
		})
	}
}
