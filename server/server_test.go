package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

func quiet() *slog.Logger {
	if os.Getenv("TETHER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// startAll runs an in-process broker with STOMP, AMQP and MQTT connectors.
func startAll(t *testing.T) (*Server, map[string]string) {
	t.Helper()
	ports := map[string]int{"stomp": testutil.FreePort(t), "amqp": testutil.FreePort(t), "mqtt": testutil.FreePort(t)}
	cfg := Config{
		BrokerName: "x", DataDirectory: t.TempDir(),
		TransportConnectors: []Connector{
			{Name: "stomp", URI: fmt.Sprintf("stomp://127.0.0.1:%d", ports["stomp"])},
			{Name: "amqp", URI: fmt.Sprintf("amqp://127.0.0.1:%d", ports["amqp"])},
			{Name: "mqtt", URI: fmt.Sprintf("mqtt://127.0.0.1:%d", ports["mqtt"])},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	addrs := map[string]string{}
	for n := range ports {
		addrs[n] = s.Addr(n)
	}
	return s, addrs
}

func TestConfigParsing(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
brokerName: amq1
dataDirectory: /srv/x
transportConnectors:
  - {name: stomp, uri: "stomp://0.0.0.0:61613?maximumConnections=1000&wireFormat.maxFrameSize=104857600"}
users:
  - {username: admin, password: secret}
memoryLimit: 64 mb
lockKeepAlivePeriod: 500
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BrokerName != "amq1" || len(cfg.TransportConnectors) != 1 || cfg.MemoryLimit != 64<<20 ||
		time.Duration(cfg.LockKeepAlivePeriod) != 500*time.Millisecond || cfg.Users[0].Password != "secret" {
		t.Fatalf("parsed %+v", cfg)
	}
	bad := map[string]string{
		"bogus: 1":                         "bogus",
		"transportConnectors: []":          "at least one",
		"memoryLimit: much":                "bad size",
		"brokerName: ''":                   "brokerName",
		"lockKeepAlivePeriod: soon":        "bad duration",
		"transportConnectors: [{name: a}]": "transportConnectors[0].uri",
		"users: [{password: x}]":           "users[0].username",
		"maxRedeliveries: -5":              "maxRedeliveries",
		"transportConnectors: [{name: a, uri: 'stomp://h:1'}, {name: a, uri: 'stomp://h:2'}]": "duplicate",
	}
	for text, want := range bad {
		if _, err := ParseConfig([]byte(text)); err == nil || !contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want one naming %q", text, err, want)
		}
	}
	if _, err := ParseConfig(nil); err != nil {
		t.Fatalf("empty config: %v", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
