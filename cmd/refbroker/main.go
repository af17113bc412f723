// Command refbroker runs tether's reference broker.
//
// With no arguments it runs a broker named "localhost" with its data in
// ./data, STOMP on 61613 and 61616, AMQP on 5672, MQTT on 1883, STOMP (and
// MQTT) over WebSocket on 61614 and the admin HTTP port on 8161. A YAML
// file (--config) or flags change that; flags win over the file.
//
// Several refbrokers given the same data directory form a shared-store
// master/slave group: the one holding <dataDirectory>/lock serves, the
// others wait with no client port open and take over when it dies.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tethermq/tether/server"
	"github.com/tethermq/tether/server/network"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // runtime failure, or fenced (lost the master lock)
	exitUsage  = 2 // bad flags or config
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("refbroker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		configPath = fs.String("config", "", "YAML config file (names follow activemq.xml)")
		name       = fs.String("broker-name", "", "broker name (default localhost)")
		dataDir    = fs.String("data-directory", "", "data directory; brokers sharing it form a master/slave group (default ./data)")
		admin      = fs.String("admin", "", "admin HTTP address for /healthz and the JSON API (default 127.0.0.1:8161; 'off' disables)")
		memLimit   = fs.String("memory-limit", "", "message bytes held in memory before producers wait (default 64MiB)")
		keepAlive  = fs.String("lock-keepalive", "", "how often the master re-checks its lock (default 1s)")
		logLevel   = fs.String("log-level", "info", "debug, info, warn or error")
		hashPw     = fs.Bool("hash-password", false, "read a password on stdin, print its bcrypt hash (for users: passwordHash:) and exit")
		connectors multiFlag
		networks   multiFlag
		users      multiFlag
	)
	fs.Var(&connectors, "connector", "transport connector NAME=URI (repeatable; replaces the configured list), e.g. stomp=stomp://0.0.0.0:61613")
	fs.Var(&networks, "network-connector", "network connector URI (repeatable; replaces the configured list); its query may carry <networkConnector> attributes, e.g. 'masterslave:(tcp://b1:61616,tcp://b2:61616)?duplex=true'")
	fs.Var(&users, "user", "USERNAME:PASSWORD allowed to connect (repeatable; none = anonymous)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "refbroker: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *hashPw {
		if err := hashPassword(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(stderr, "refbroker: %v\n", err)
			return exitUsage
		}
		return exitOK
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "refbroker: --log-level %q: %v\n", *logLevel, err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg := server.Default()
	if *configPath != "" {
		var err error
		if cfg, err = server.LoadConfig(*configPath); err != nil {
			fmt.Fprintf(stderr, "refbroker: %v\n", err)
			return exitUsage
		}
	}
	if err := applyFlags(&cfg, *name, *dataDir, *admin, *memLimit, *keepAlive, connectors, users); err != nil {
		fmt.Fprintf(stderr, "refbroker: %v\n", err)
		return exitUsage
	}
	if err := applyNetworkFlags(&cfg, networks); err != nil {
		fmt.Fprintf(stderr, "refbroker: %v\n", err)
		return exitUsage
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "refbroker: %v\n", err)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go governMemory(ctx, cfg, log)
	srv, err := server.Start(ctx, cfg, log)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			log.Info("refbroker stopped while waiting as slave")
			return exitOK
		}
		log.Error("refbroker failed to start", "err", err)
		return exitFailed
	}
	select {
	case <-ctx.Done():
		log.Info("refbroker stopping on signal")
		srv.Close()
		return exitOK
	case <-srv.Fenced():
		log.Error("refbroker stopped: it no longer holds the master lock", "reason", srv.FenceReason())
		srv.Close()
		return exitFailed
	}
}

func applyFlags(cfg *server.Config, name, dataDir, admin, memLimit, keepAlive string, connectors, users []string) error {
	if name != "" {
		cfg.BrokerName = name
	}
	if dataDir != "" {
		cfg.DataDirectory = dataDir
	}
	switch admin {
	case "":
	case "off":
		cfg.AdminAddress = ""
	default:
		cfg.AdminAddress = admin
	}
	if memLimit != "" {
		n, err := server.ParseByteSize(memLimit)
		if err != nil {
			return fmt.Errorf("--memory-limit: %w", err)
		}
		cfg.MemoryLimit = server.ByteSize(n)
	}
	if keepAlive != "" {
		var d server.Duration
		if err := d.Set(keepAlive); err != nil {
			return fmt.Errorf("--lock-keepalive: %w", err)
		}
		cfg.LockKeepAlivePeriod = d
	}
	if len(connectors) > 0 {
		cfg.TransportConnectors = nil
		for _, c := range connectors {
			n, uri, ok := strings.Cut(c, "=")
			if !ok || n == "" {
				return fmt.Errorf("--connector %q: want NAME=URI", c)
			}
			cfg.TransportConnectors = append(cfg.TransportConnectors, server.Connector{Name: n, URI: uri})
		}
	}
	for _, u := range users {
		n, p, ok := strings.Cut(u, ":")
		if !ok || n == "" {
			return fmt.Errorf("--user %q: want USERNAME:PASSWORD", u)
		}
		cfg.Users = append(cfg.Users, server.User{Username: n, Password: p})
	}
	return nil
}

// applyNetworkFlags replaces the configured network connectors with those
// given by --network-connector (several need distinct ?name=...).
func applyNetworkFlags(cfg *server.Config, networks []string) error {
	if len(networks) == 0 {
		return nil
	}
	cfg.NetworkConnectors = nil
	for _, v := range networks {
		o, err := network.ParseFlag(v)
		if err != nil {
			return fmt.Errorf("--network-connector: %w", err)
		}
		cfg.NetworkConnectors = append(cfg.NetworkConnectors, o)
	}
	return nil
}
