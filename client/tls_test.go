package client_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server"
)

// tlsBroker is an in-process broker with one TLS connector on a fixed
// loopback port, a password and a certificate from certs.
type tlsBroker struct {
	srv  *server.Server
	addr string
}

func startTLSBroker(t *testing.T, name, scheme string, certs *testutil.Certs) *tlsBroker {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv, err := server.Start(ctx, server.Config{
		BrokerName: name, DataDirectory: t.TempDir(),
		TransportConnectors: []server.Connector{{Name: "tls", URI: scheme + "://" + addr}},
		Users:               []server.User{{Username: "app", Password: "secret"}},
		SSLContext:          &server.SSLContext{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile, NeedClientAuth: true},
	}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	b := &tlsBroker{srv: srv, addr: addr}
	t.Cleanup(b.stop)
	return b
}

var stopMu sync.Mutex

func (b *tlsBroker) stop() {
	stopMu.Lock()
	defer stopMu.Unlock()
	if b.srv != nil {
		b.srv.Close()
		b.srv = nil
	}
}

// The SDK over refbroker's TLS listeners on all three protocols, with a
// client certificate (the brokers require one) and a password, across a
// failover from one broker to the other: the reconnect dials TLS again and
// the subscription is restored on the second broker.
func TestTLSAcrossFailover(t *testing.T) {
	certs := testutil.NewCerts(t)
	for _, c := range []struct{ server, client, dest string }{
		{"stomp+ssl", "stomp+ssl", "queue://tls.failover"},
		{"ssl", "ssl", "queue://tls.failover"},
		{"amqp+ssl", "amqps", "queue://tls.failover"},
		{"mqtt+ssl", "mqtt+ssl", "topic://tls.failover"},
	} {
		t.Run(c.server, func(t *testing.T) {
			a := startTLSBroker(t, "a", c.server, certs)
			b := startTLSBroker(t, "b", c.server, certs)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			uri := fmt.Sprintf("failover:(%s://%s,%s://%s)?randomize=false&initialReconnectDelay=20&maxReconnectDelay=200",
				c.client, a.addr, c.client, b.addr)
			var mu sync.Mutex
			var resumed []string
			conn, err := client.Dial(ctx, uri, client.WithTLS(certs.ClientTLS(true)), client.WithCredentials("app", "secret"),
				client.WithClientID("tls-"+strings.ReplaceAll(c.server, "+", "")),
				client.WithEventHandler(func(e client.Event) {
					if e.Kind == client.EventResumed {
						mu.Lock()
						resumed = append(resumed, e.URI)
						mu.Unlock()
					}
				}))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if !strings.Contains(conn.URI(), a.addr) {
				t.Fatalf("connected to %s, want the first broker %s", conn.URI(), a.addr)
			}
			sub, err := conn.Subscribe(ctx, c.dest)
			if err != nil {
				t.Fatal(err)
			}
			if err := conn.Send(ctx, c.dest, []byte("before")); err != nil {
				t.Fatal(err)
			}
			if m, err := sub.Next(ctx); err != nil || string(m.Body()) != "before" {
				t.Fatalf("before the failover: %v %v", m, err)
			}
			a.stop()
			// Sends wait for the reconnect; a topic message sent before the
			// subscription is back on b is nobody's, so send until one
			// arrives.
			for i := 0; ; i++ {
				if err := conn.Send(ctx, c.dest, []byte(fmt.Sprintf("after-%d", i))); err != nil {
					t.Fatal(err)
				}
				rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
				m, err := sub.Next(rctx)
				rcancel()
				if err == nil {
					if !strings.HasPrefix(string(m.Body()), "after-") {
						t.Fatalf("after the failover: %q", m.Body())
					}
					break
				}
				if ctx.Err() != nil {
					t.Fatal("no message through the second broker")
				}
			}
			if !strings.Contains(conn.URI(), b.addr) {
				t.Fatalf("after the failover connected to %s, want %s", conn.URI(), b.addr)
			}
			// events are handed over asynchronously: wait for it
			testutil.Eventually(t, 10*time.Second, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(resumed) > 0 && strings.Contains(resumed[len(resumed)-1], b.addr)
			}, "no resumed event naming %s", b.addr)
		})
	}
}

// Without the CA the client refuses the broker's certificate, and without a
// client certificate the broker refuses the client: neither is served.
func TestTLSRefusals(t *testing.T) {
	certs := testutil.NewCerts(t)
	b := startTLSBroker(t, "a", "stomp+ssl", certs)
	for name, o := range map[string]client.Option{
		"untrusted broker":      client.WithTLS(nil),
		"no client certificate": client.WithTLS(certs.ClientTLS(false)),
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := client.Dial(ctx, "failover:(stomp+ssl://"+b.addr+")?startupMaxReconnectAttempts=0", o, client.WithCredentials("app", "secret"))
		cancel()
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: %v, want a certificate error", name, err)
		}
	}
}
