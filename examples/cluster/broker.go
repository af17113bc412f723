package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/tethermq/tether/server"
	"github.com/tethermq/tether/server/network"
)

// runBroker is a child process: one refbroker, as cmd/refbroker would run
// it with the same flags. It returns when ctx ends (SIGTERM), or never if
// the demo kills it.
func runBroker(ctx context.Context, name, dir string, port, admin int, networkURI string) error {
	cfg := server.Default()
	cfg.BrokerName = name
	cfg.DataDirectory = dir
	cfg.AdminAddress = fmt.Sprintf("127.0.0.1:%d", admin)
	cfg.TransportConnectors = []server.Connector{{Name: "native", URI: fmt.Sprintf("tcp://127.0.0.1:%d", port)}}
	if networkURI != "" {
		nc, err := network.ParseFlag(networkURI)
		if err != nil {
			return err
		}
		cfg.NetworkConnectors = []network.Options{nc}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("broker", name)
	srv, err := server.Start(ctx, cfg, log) // waits here while a slave
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer srv.Close()
	select {
	case <-ctx.Done():
	case <-srv.Fenced():
	}
	return nil
}
