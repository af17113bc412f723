package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// ActiveMQScripts returns the directory of the scripts that run real
// ActiveMQ 5.17 (start.sh, stop.sh): $TETHER_ACTIVEMQ_SCRIPTS if set, else
// shared/activemq beside the repository (where CI lays it), else the
// workplace's /work/shared/activemq. It fails the test if none exists.
func ActiveMQScripts(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(file), "..", "..")
	candidates := []string{
		os.Getenv("TETHER_ACTIVEMQ_SCRIPTS"),
		filepath.Join(repo, "..", "shared", "activemq"),
		"/work/shared/activemq",
	}
	for _, dir := range candidates {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "start.sh")); err == nil {
			return filepath.Clean(dir)
		}
	}
	t.Fatalf("ActiveMQ scripts (start.sh) not found in %v; set TETHER_ACTIVEMQ_SCRIPTS", candidates[1:])
	return ""
}
