//go:build interop

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/pgtest"
	"github.com/tethermq/tether/internal/testutil"
)

// TestActiveMQJDBCStoresInPostgreSQL keeps the --jdbc set's ActiveMQ set-up
// from rotting: Debian's ActiveMQ, given the generated configuration and
// the linked driver, must start on PostgreSQL as master, keep a confirmed
// persistent message in ACTIVEMQ_MSGS; a second broker on the same
// database must wait for the lease, take over when the master is killed,
// and hand the message back.
func TestActiveMQJDBCStoresInPostgreSQL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	pg := pgtest.Start(t)
	refConfig, store, err := jdbcDatabase(ctx, pg, t.TempDir(), "amq_interop")
	if err != nil {
		t.Fatal(err)
	}
	if refConfig == "" {
		t.Fatal("no refbroker config written")
	}
	run := t.TempDir()
	newAMQ := func(name string) *activemqProc {
		a := &activemqProc{scripts: activemqScripts(t), runRoot: run, name: name, port: testutil.FreePort(t), jdbc: store}
		t.Cleanup(func() { _ = a.Stop() })
		return a
	}
	master := newAMQ("bc-amq-jdbc-1")
	if err := master.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !servesSTOMP(master.Addr()) {
		t.Fatal("the first broker does not serve STOMP")
	}
	if v := master.version(); v == "" {
		t.Fatal("no ActiveMQ version in the log")
	}

	conn, err := client.Dial(ctx, "stomp://"+master.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const dest = "queue://bc.jdbc.interop"
	if err := conn.Send(ctx, dest, []byte("kept in postgres"), client.Persistent()); err != nil {
		t.Fatal(err)
	}
	db, err := pgx.Connect(ctx, pg.URL(store.database))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var n int
	if err := db.QueryRow(ctx, "SELECT count(*) FROM activemq_msgs WHERE container LIKE '%bc.jdbc.interop%'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d rows for the confirmed message in ACTIVEMQ_MSGS, want 1", n)
	}

	slave := newAMQ("bc-amq-jdbc-2")
	if err := slave.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if servesSTOMP(slave.Addr()) {
		t.Fatal("the second broker on one database serves too: no lease")
	}

	// kill -9 of the master: the slave takes the lease over once it
	// expired and serves the stored message.
	conn.Close()
	if err := master.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, 30*time.Second, "the slave to take over", func() (bool, error) {
		return servesSTOMP(slave.Addr()), nil
	}); err != nil {
		t.Fatal(err)
	}
	conn2, err := client.Dial(ctx, "stomp://"+slave.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	sub, err := conn2.Subscribe(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Body()) != "kept in postgres" {
		t.Fatalf("body %q", m.Body())
	}
	conn2.Close()
	for _, a := range []*activemqProc{master, slave} {
		if err := a.Stop(); err != nil {
			t.Fatal(err)
		}
		if a.Pid() != 0 {
			t.Fatalf("%s still runs", a.name)
		}
	}
	log, _ := os.ReadFile(filepath.Join(run, master.name, "broker.log"))
	if !strings.Contains(string(log), "Using Persistence Adapter: JDBCPersistenceAdapter") {
		t.Fatalf("the broker did not use the JDBC store; log:\n%s", tail(string(log), 20))
	}
}
