package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/server"
)

// A broker embedded in a program, with one STOMP connector on a port the
// system picks, used through the SDK.
func Example() {
	dir, err := os.MkdirTemp("", "broker")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	cfg, err := server.ParseConfig([]byte(`
brokerName: embedded
dataDirectory: ` + dir + `
transportConnectors:
  - {name: stomp, uri: "stomp://127.0.0.1:0"}
`))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	srv, err := server.Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	conn, err := client.Dial(ctx, "tcp://"+srv.Addr("stomp"))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	sub, err := conn.Subscribe(ctx, "queue://greetings")
	if err != nil {
		panic(err)
	}
	if err := conn.Send(ctx, "queue://greetings", []byte("hello")); err != nil {
		panic(err)
	}
	m, err := sub.Next(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(srv.Role(), string(m.Body()))
	// Output: master hello
}
