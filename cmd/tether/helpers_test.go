package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server"
)

// startBroker runs an in-process refbroker with one STOMP connector and
// returns its URI; it stops when the test ends.
func startBroker(t *testing.T) string {
	t.Helper()
	port := testutil.FreePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := server.Start(ctx, server.Config{
		BrokerName:          "cli",
		DataDirectory:       t.TempDir(),
		TransportConnectors: []server.Connector{{Name: "stomp", URI: fmt.Sprintf("stomp://127.0.0.1:%d", port)}},
		AdminAddress:        "",
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return fmt.Sprintf("stomp://127.0.0.1:%d", port)
}

// outcome is one command run's exit status and output.
type outcome struct {
	code           int
	stdout, stderr string
}

// tether runs the command line in-process, bounded by a minute.
func tether(t *testing.T, stdin string, args ...string) outcome {
	t.Helper()
	return tetherEnv(t, stdin, false, args...)
}

func tetherEnv(t *testing.T, stdin string, tty bool, args ...string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, env{stdin: bytes.NewBufferString(stdin), stdout: &stdout, stderr: &stderr, stderrTTY: tty})
	return outcome{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// mustSucceed fails the test unless o exited 0.
func (o outcome) mustSucceed(t *testing.T) outcome {
	t.Helper()
	if o.code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", o.code, o.stdout, o.stderr)
	}
	return o
}
