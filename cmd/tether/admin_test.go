package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server"
	"github.com/tethermq/tether/server/auth"
)

// startAdminBroker runs a refbroker with users and an admin port, and
// returns its STOMP URI and admin URL.
func startAdminBroker(t *testing.T) (*server.Server, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := server.Start(ctx, server.Config{
		BrokerName: "cli-admin", DataDirectory: t.TempDir(), AdminAddress: "127.0.0.1:0",
		TransportConnectors: []server.Connector{{Name: "stomp", URI: "stomp://127.0.0.1:0"}},
		Users: []server.User{{Username: "root", Password: "rootpw", Groups: auth.Groups{server.AdminGroup}},
			{Username: "app", Password: "apppw"}},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, "stomp://" + srv.Addr("stomp"), "http://" + srv.Addr("admin")
}

func TestAdminCommands(t *testing.T) {
	srv, uri, adminURL := startAdminBroker(t)
	send := func(dest, body string, flags ...string) {
		t.Helper()
		args := append([]string{"send", "--uri", uri, "--user", "app", "--password", "apppw", "-q", "--persistent"}, flags...)
		tether(t, "", append(args, dest, body)...).mustSucceed(t)
	}
	send("orders", "first order", "--count", "3")
	send("expiring", "too late", "--ttl", "100ms")
	send("other", "also too late", "--ttl", "100ms")
	testutil.Eventually(t, 10*time.Second, func() bool {
		q, err := srv.Broker().Queue(dlqName, 0)
		return err == nil && q.Pending == 2
	}, "two dead letters")

	admin := func(args ...string) outcome {
		return tether(t, "", append([]string{"admin", "--url", adminURL, "--user", "root", "--password", "rootpw"}, args...)...)
	}
	out := admin("queues").mustSucceed(t).stdout
	if !strings.Contains(out, "WAITING") || !rowHas(out, "orders", "3") || !rowHas(out, "ActiveMQ.DLQ", "2") {
		t.Fatalf("queues table:\n%s", out)
	}
	var qs []queueRow
	if err := json.Unmarshal([]byte(admin("--json", "queues").mustSucceed(t).stdout), &qs); err != nil || len(qs) < 4 {
		t.Fatalf("queues --json: %v %+v", err, qs)
	}
	if out := admin("--limit", "2", "browse", "orders").mustSucceed(t).stdout; strings.Count(out, `"first order"`) != 2 {
		t.Fatalf("browse:\n%s", out)
	}
	if out := admin("purge", "orders").mustSucceed(t).stdout; out != "purged 3 messages from queue://orders\n" {
		t.Fatalf("purge: %q", out)
	}
	// Only the dead letters of queue://expiring go back.
	out = admin("move-dlq", "--all", "--from", "queue://expiring").mustSucceed(t).stdout
	if !strings.Contains(out, "moved to queue://expiring") || !strings.HasSuffix(out, "1 moved, 0 failed\n") {
		t.Fatalf("move-dlq --all --from:\n%s", out)
	}
	if q, _ := srv.Broker().Queue("expiring", 0); q.Pending != 1 {
		t.Fatalf("queue://expiring after the move: %+v", q)
	}
	if q, _ := srv.Broker().Queue(dlqName, 0); q.Pending != 1 {
		t.Fatalf("the DLQ after the move: %+v", q)
	}
	// An id that is not there: reported, exit status 1.
	if o := admin("move-dlq", "ID:nope"); o.code != exitFailed || !strings.Contains(o.stdout, "failed: move ID:nope: not waiting") {
		t.Fatalf("move of a missing id: %+v", o)
	}
	var moved []map[string]string
	if err := json.Unmarshal([]byte(admin("--json", "move-dlq", "--all").mustSucceed(t).stdout), &moved); err != nil ||
		len(moved) != 1 || moved[0]["movedTo"] != "queue://other" {
		t.Fatalf("move-dlq --all --json: %v %v", moved, err)
	}

	// Refusals: bad credentials, bad command lines, a queue in use.
	if o := tether(t, "", "admin", "--url", adminURL, "queues"); o.code != exitFailed || !strings.Contains(o.stderr, "HTTP 401") {
		t.Fatalf("without credentials: %+v", o)
	}
	for _, args := range [][]string{{}, {"purge"}, {"frobnicate"}, {"move-dlq"}, {"move-dlq", "--all", "ID:1"}, {"--limit", "0", "queues"}} {
		if o := admin(args...); o.code != exitUsage {
			t.Errorf("admin %v: exit %d, want %d (%s)", args, o.code, exitUsage, o.stderr)
		}
	}
	if o := admin("delete", "nope"); o.code != exitFailed || !strings.Contains(o.stderr, "HTTP 404") {
		t.Fatalf("delete of a missing queue: %+v", o)
	}
}

// rowHas reports whether a table row starting with name has cell want.
func rowHas(table, name, want string) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == name && f[1] == want {
			return true
		}
	}
	return false
}
