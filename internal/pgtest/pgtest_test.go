//go:build interop

package pgtest

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestStartCreateRestart(t *testing.T) {
	c := Start(t)
	url := c.CreateDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	query := func() int {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		if err := conn.QueryRow(ctx, "SELECT 41 + 1").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := query(); n != 42 {
		t.Fatalf("got %d", n)
	}
	c.Restart(t)
	if n := query(); n != 42 {
		t.Fatalf("after restart got %d", n)
	}
}

func TestCreateDatabaseAndVersion(t *testing.T) {
	c := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, bad := range []string{"", "Bad", "1db", "a-b", "x; DROP DATABASE postgres"} {
		if _, err := c.CreateDatabase(ctx, bad); err == nil {
			t.Fatalf("CreateDatabase(%q) accepted", bad)
		}
	}
	url, err := c.CreateDatabase(ctx, "bench_db1")
	if err != nil {
		t.Fatal(err)
	}
	if url != c.URL("bench_db1") {
		t.Fatalf("url %s", url)
	}
	if _, err := c.CreateDatabase(ctx, "bench_db1"); err == nil {
		t.Fatal("second CreateDatabase of one name succeeded")
	}
	pid, err := c.Pid()
	if err != nil || syscall.Kill(pid, 0) != nil {
		t.Fatalf("server pid %d: %v", pid, err)
	}
	v, err := c.ServerVersion(ctx)
	if err != nil || v == "" {
		t.Fatalf("version %q: %v", v, err)
	}
}
