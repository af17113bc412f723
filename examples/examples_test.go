// Package examples_test runs the example programs the README points to, so
// that they keep working: each is built and run as a real process and must
// finish successfully and say that its check held.
package examples_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), ".."))
}

func TestExamplesRun(t *testing.T) {
	for _, ex := range []struct{ dir, want string }{
		{"failover", "0 received twice, 0 confirmed but missing"},
		{"groups", "each customer's orders in order"},
		{"cluster", "each of the 100 messages was received exactly once"},
	} {
		t.Run(ex.dir, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), ex.dir)
			build := exec.Command("go", "build", "-o", bin, "./examples/"+ex.dir)
			build.Dir = moduleRoot()
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", ex.dir, err, out)
			}
			if !strings.Contains(string(out), ex.want) {
				t.Fatalf("%s did not report %q:\n%s", ex.dir, ex.want, out)
			}
		})
	}
}
