package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server"
)

func TestScratchSmoke(t *testing.T) {
	port := testutil.FreePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv, err := server.Start(ctx, server.Config{BrokerName: "t1", DataDirectory: t.TempDir(),
		TransportConnectors: []server.Connector{{Name: "stomp", URI: fmt.Sprintf("stomp://127.0.0.1:%d", port)}}},
		slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := client.Dial(ctx, fmt.Sprintf("stomp://127.0.0.1:%d", port), client.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx, "queue://a", client.AckIndividual)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, "queue://a", []byte("hello"), client.Persistent(), client.Headers(map[string]string{"x": "y"}), client.Group("g"), client.Priority(7)); err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %s %v %v %d %v", m.ID(), m.Body(), m.Headers(), m.Persistent(), m.Priority(), m.GroupID())
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", c.Stats())
}
