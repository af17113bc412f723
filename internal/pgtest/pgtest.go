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
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// User and Password are the cluster's superuser and its password.
const (
	User     = "tether"
	Password = "tether-test"
)

// Cluster is one running PostgreSQL server.
type Cluster struct {
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
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// New creates and starts a cluster for a whole test binary (TestMain);
// Close stops and removes it.
func New() (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir: its parents are private to root, and the server may
	// run as the postgres user.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Port: port, bin: bin}
	c.stopped.Store(true)
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("pgtest: running as root and there is no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			c.Close()
			return nil, err
		}
		c.asUser = "postgres"
	}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(Password+"\n"), 0o644); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.run("initdb", "-D", c.dataDir(), "-U", User, "--pwfile", pwfile, "-A", "scram-sha-256",
		"-E", "UTF8", "--locale", "C", "--no-sync"); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.run("pg_ctl", "-D", c.dataDir(), "-l", c.logFile(), "-o", c.serverOptions(), "-w", "-t", "60", "start"); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w\n%s", err, c.Log())
	}
	c.stopped.Store(false)
	return c, nil
}

// freePort picks a loopback port below 32768 that is free now.
func freePort() (int, error) {
	for range 1000 {
		p := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, fmt.Errorf("pgtest: no free port below 32000")
}

func (c *Cluster) dataDir() string { return filepath.Join(c.Dir, "data") }
func (c *Cluster) logFile() string { return filepath.Join(c.Dir, "log") }

// run runs a server program as the cluster's user.
func (c *Cluster) run(prog string, args ...string) error {
	path := filepath.Join(c.bin, prog)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.asUser, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = c.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: %s %v: %w\n%s", prog, args, err, out)
	}
	return nil
}

// serverOptions keep the cluster small and private: loopback TCP only,
// its socket in its own directory, little memory.
func (c *Cluster) serverOptions() string {
	return fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=100 -c shared_buffers=32MB", c.Port, c.Dir)
}

// Close stops the server (fast shutdown) and removes its directory. It
// is safe to call twice.
func (c *Cluster) Close() {
	if !c.stopped.Swap(true) {
		_ = c.run("pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "-t", "60", "stop")
	}
	_ = os.RemoveAll(c.Dir)
}

// Restart stops the server (fast: every connection is dropped) and starts
// it again on the same port.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	if err := c.run("pg_ctl", "-D", c.dataDir(), "-l", c.logFile(), "-o", c.serverOptions(), "-m", "fast", "-w", "-t", "60", "restart"); err != nil {
		t.Fatal(err)
	}
}

// StopServer stops the server (fast shutdown) and leaves it stopped until
// StartServer.
func (c *Cluster) StopServer(t testing.TB) {
	t.Helper()
	if err := c.run("pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		t.Fatal(err)
	}
	c.stopped.Store(true)
}

// StartServer starts a server that StopServer stopped, on the same port.
func (c *Cluster) StartServer(t testing.TB) {
	t.Helper()
	if err := c.run("pg_ctl", "-D", c.dataDir(), "-l", c.logFile(), "-o", c.serverOptions(), "-w", "-t", "60", "start"); err != nil {
		t.Fatal(err)
	}
	c.stopped.Store(false)
}

// Pid is the running server's process id (the postmaster, parent of every
// backend), from its postmaster.pid.
func (c *Cluster) Pid() (int, error) {
	data, err := os.ReadFile(filepath.Join(c.dataDir(), "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("pgtest: server pid: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, fmt.Errorf("pgtest: server pid: %w", err)
	}
	return pid, nil
}

// Log is the server's log so far, for failure messages.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(c.logFile())
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
	url, err := c.CreateDatabase(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// CreateDatabase creates database name (a plain identifier: lower-case letters,
// digits and underscores) and returns its URL, for callers without a
// testing.TB (cmd/benchcompare).
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	if !plainIdent(name) {
		return "", fmt.Errorf("pgtest: database name %q: want lower-case letters, digits and underscores", name)
	}
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: connect: %w\n%s", err, c.Log())
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return c.URL(name), nil
}

// ServerVersion is the server's version string (SHOW server_version).
func (c *Cluster) ServerVersion(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "", fmt.Errorf("pgtest: server version: %w", err)
	}
	return v, nil
}

func plainIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
