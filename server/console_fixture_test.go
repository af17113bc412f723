package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/auth"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/network"
)

// consoleBroker is a broker holding something of everything the console
// shows: waiting messages (queue://orders, 5), message groups owned by a
// consumer that does not ack (queue://grouped), an inactive durable
// subscription with messages (topic://prices, "dash"), a dead letter
// (from queue://expiring) and a network bridge to a second broker.
type consoleBroker struct {
	s, remote *Server
	base      string // http://host:port of the admin port
	ctx       context.Context
}

const consoleUser, consolePass = "root", "rootpw"

func newConsoleBroker(t *testing.T) *consoleBroker {
	t.Helper()
	remote := startConfig(t, Config{BrokerName: "remote", DataDirectory: t.TempDir(),
		TransportConnectors: []Connector{{Name: "stomp", URI: "stomp://127.0.0.1:0"}}}, nil)
	nc := network.Defaults()
	nc.Name = "to-remote"
	nc.URI = "static:(stomp://" + remote.Addr("stomp") + ")?initialReconnectDelay=50&maxReconnectDelay=200"
	s := startConfig(t, Config{
		BrokerName: "console-test", DataDirectory: t.TempDir(), AdminAddress: "127.0.0.1:0",
		TransportConnectors: []Connector{{Name: "stomp", URI: "stomp://127.0.0.1:0"}},
		Users: []User{{Username: consoleUser, Password: consolePass, Groups: auth.Groups{AdminGroup}},
			{Username: "app", Password: "apppw"}},
		NetworkConnectors: []network.Options{nc},
		authFailureDelay:  testFailureDelay,
	}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cb := &consoleBroker{s: s, remote: remote, base: "http://" + s.Addr("admin"), ctx: ctx}
	url := "stomp://" + s.Addr("stomp")

	producer, err := client.Dial(ctx, url, client.WithCredentials("app", "apppw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { producer.Close() })
	for i := 1; i <= 5; i++ {
		if err := producer.Send(ctx, "queue://orders", []byte(fmt.Sprintf("order-%d <b>not bold</b>", i)), client.Persistent(),
			client.Headers(map[string]string{"region": "eu"})); err != nil {
			t.Fatal(err)
		}
	}
	for i, g := range []string{"g-a", "g-b", "g-a", "g-b"} {
		if err := producer.Send(ctx, "queue://grouped", []byte(fmt.Sprintf("%s #%d", g, i)), client.Persistent(), client.Group(g)); err != nil {
			t.Fatal(err)
		}
	}
	// A consumer that takes the groups and acknowledges nothing.
	grouped, err := client.Dial(ctx, url, client.WithCredentials("app", "apppw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { grouped.Close() })
	gsub, err := grouped.Subscribe(ctx, "queue://grouped", client.Prefetch(10), client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := gsub.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A durable subscription, left inactive, then published to.
	dash, err := client.Dial(ctx, url, client.WithCredentials("app", "apppw"), client.WithClientID("dash-client"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dash.Subscribe(ctx, "topic://prices", client.Durable("dash")); err != nil {
		t.Fatal(err)
	}
	dash.Close()
	cb.eventually(t, "the durable subscription is inactive", func(b *broker.Broker) bool {
		for _, d := range b.Subscriptions() {
			if d.Durable && !d.Active {
				return true
			}
		}
		return false
	})
	for i := range 3 {
		if err := producer.Send(ctx, "topic://prices", []byte(fmt.Sprintf("price %d", i)), client.Persistent()); err != nil {
			t.Fatal(err)
		}
	}
	// A persistent message that expires unconsumed goes to the DLQ.
	if err := producer.Send(ctx, "queue://expiring", []byte("too late"), client.Persistent(), client.TTL(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	cb.eventually(t, "a dead letter", func(b *broker.Broker) bool {
		q, err := b.Queue(broker.DLQ.Name, 0)
		return err == nil && q.Pending == 1
	})
	testutil.Eventually(t, 10*time.Second, func() bool {
		bs := s.NetworkBridges()
		return len(bs) == 1 && bs[0].Remote == "remote"
	}, "the network bridge did not come up")
	return cb
}

func (cb *consoleBroker) eventually(t *testing.T, what string, cond func(*broker.Broker) bool) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() bool { return cond(cb.s.Broker()) }, "waiting for %s", what)
}

// do makes an authenticated admin request and returns status and body.
func (cb *consoleBroker) do(t *testing.T, method, path string, body io.Reader, hdr map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(cb.ctx, method, cb.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(consoleUser, consolePass)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (cb *consoleBroker) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	code, body := cb.do(t, "GET", path, nil, nil)
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d: %s", path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

func (cb *consoleBroker) post(t *testing.T, path string, want int) []byte {
	t.Helper()
	code, body := cb.do(t, "POST", path, strings.NewReader(""), nil)
	if code != want {
		t.Fatalf("POST %s = %d, want %d: %s", path, code, want, body)
	}
	return body
}
