// Package pgtest runs throwaway PostgreSQL clusters for tests: initdb and
// pg_ctl from Debian's postgresql package (/usr/lib/postgresql/*/bin) in a
// temporary directory, on a free loopback port, with password
// authentication so that tests can also try a wrong one. The cluster is
// stopped and removed when the test ends.
//
// PostgreSQL refuses to run as root, so under root the cluster's directory
// belongs to the postgres user and the server commands run through
// runuser(1).
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tethermq/tether/internal/testutil"
)

// User and Password are the cluster's superuser and its password.
const (
	User     = "tether"
	Password = "tether-test"
)

// Cluster is one running PostgreSQL server.
type Cluster struct {
	t       testing.TB
	Dir     string // the cluster's directory (data in Dir/data)
	Port    int
	bin     string
	asUser  string // run server commands as this user (set under root)
	stopped atomic.Bool
}

// BinDir finds the newest /usr/lib/postgresql/<version>/bin with initdb.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(dirs) == 0 {
		return "", fmt.Errorf("pgtest: no /usr/lib/postgresql/*/bin/initdb: install Debian's postgresql package")
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	return filepath.Dir(dirs[0]), nil
}

func version(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// Start creates and starts a cluster; it is stopped at the test's cleanup.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: its parents are private to root, and the server may
	// run as the postgres user.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, Dir: dir, Port: testutil.FreePort(t), bin: bin}
	t.Cleanup(func() {
		c.Stop()
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("pgtest: running as root and there is no postgres user to run the server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.asUser = "postgres"
	}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(Password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.run(t, "initdb", "-D", c.dataDir(), "-U", User, "--pwfile", pwfile, "-A", "scram-sha-256",
		"-E", "UTF8", "--locale", "C", "--no-sync")
	c.startServer(t)
	return c
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }

// run runs a server program as the cluster's user, failing the test on error.
func (c *Cluster) run(t testing.TB, prog string, args ...string) {
	t.Helper()
	path := filepath.Join(c.bin, prog)
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.Dir
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			if cmd.Process != nil {
				_ = cmd.Process.Kill()
			}
		case <-done:
		}
	}()
	out, err := cmd.CombinedOutput()
	close(done)
	if err != nil {
		t.Fatalf("pgtest: %s %v: %v\n%s", prog, args, err, out)
	}
}

// serverOptions keep the cluster small and private: loopback TCP only,
// its socket in its own directory, few connections, little memory.
func (c *Cluster) serverOptions() string {
	return fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=60 -c shared_buffers=32MB", c.Port, c.Dir)
}

func (c *Cluster) startServer(t testing.TB) {
	t.Helper()
	c.run(t, "pg_ctl", "-D", c.dataDir(), "-l", filepath.Join(c.Dir, "log"), "-o", c.serverOptions(), "-w", "-t", "60", "start")
	c.stopped.Store(false)
}

// Stop stops the server (fast shutdown). It is safe to call twice.
func (c *Cluster) Stop() {
	if c.stopped.Swap(true) {
		return
	}
	c.run(c.t, "pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "-t", "60", "stop")
}

// Restart stops the server (fast: connections are dropped) and starts it
// again on the same port.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	c.run(t, "pg_ctl", "-D", c.dataDir(), "-l", filepath.Join(c.Dir, "log"), "-o", c.serverOptions(), "-m", "fast", "-w", "-t", "60", "restart")
}

// Log is the server's log so far, for failure messages.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "log"))
	return string(b)
}

// URL is a connection URL for database db as the superuser.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", User, Password, c.Port, db)
}

var dbSeq atomic.Int64

// CreateDB creates a fresh database and returns its URL.
func (c *Cluster) CreateDB(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v\n%s", err, c.Log())
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return c.URL(name)
}
