//go:build interop

package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

// activemqScripts finds ../shared/activemq from the repository.
func activemqScripts(t *testing.T) string {
	t.Helper()
	return testutil.ActiveMQScripts(t)
}

func newActiveMQ(t *testing.T, runRoot, name, dataDir string, intervalMS int) *activemqProc {
	a := &activemqProc{scripts: activemqScripts(t), runRoot: runRoot, name: name,
		port: testutil.FreePort(t), dataDir: dataDir, lockIntervalMS: intervalMS}
	t.Cleanup(func() { _ = a.Stop() })
	return a
}

func TestActiveMQPairFailover(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, data := t.TempDir(), t.TempDir()
	m1 := newActiveMQ(t, run, "bc-amq-1", data, 200)
	m2 := newActiveMQ(t, run, "bc-amq-2", data, 200)
	res, err := measureFailover(ctx, failoverSetup{label: "amq", kills: 2, members: [2]broker{m1, m2}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.times) != 2 {
		t.Fatalf("times %v", res.times)
	}
	if v := m1.version(); v == "" {
		t.Fatal("no ActiveMQ version in the log")
	}
	for _, m := range []*activemqProc{m1, m2} {
		if m.Pid() != 0 {
			t.Fatalf("%s still runs", m.name)
		}
		if _, err := os.Stat(filepath.Join(run, m.name, "broker.pid")); !os.IsNotExist(err) {
			t.Fatalf("%s: pid file left: %v", m.name, err)
		}
	}
}
