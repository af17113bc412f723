package lock

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"
)

// helperDirEnv makes the test binary act as a broker that holds the lock in
// dir until it is killed.
const helperDirEnv = "TETHER_LOCK_TEST_HOLDER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperDirEnv); dir != "" {
		os.Exit(holdLock(dir))
	}
	os.Exit(m.Run())
}

// holdLock acquires the lock, says so on stdout, and holds it until stdin
// closes (the test ended) or the process is killed.
func holdLock(dir string) int {
	l, err := NewFileLocker(Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		err = l.Acquire(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// TestTakeoverWhenHolderProcessIsKilled: the kernel drops a flock when its
// process dies, and a blocked slave takes over at once.
func TestTakeoverWhenHolderProcessIsKilled(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		<-exited
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	select {
	case line := <-lines:
		if line != "locked" {
			t.Fatalf("holder said %q, want %q", line, "locked")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("holder process did not take the lock")
	}
	if !hasLine(readLockFile(t, dir), ownerLine("pid", fmt.Sprint(cmd.Process.Pid))) {
		t.Fatalf("lock file does not name the holder process: %q", readLockFile(t, dir))
	}

	slave, rec := newTestLocker(t, Options{Dir: dir})
	res := acquireAsync(context.Background(), slave)
	awaitSlave(t, rec, dir, true)

	killed := time.Now()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	r := awaitResult(t, res, 5*time.Second)
	if r.err != nil {
		t.Fatalf("slave Acquire: %v", r.err)
	}
	latency := r.at.Sub(killed)
	t.Logf("takeover latency after SIGKILL of the holder process: %v", latency)
	if latency > time.Second {
		t.Errorf("takeover took %v after SIGKILL, want well under 1s", latency)
	}
	if !hasLine(readLockFile(t, dir), ownerLine("pid", fmt.Sprint(os.Getpid()))) {
		t.Error("new master did not write its pid")
	}
}
