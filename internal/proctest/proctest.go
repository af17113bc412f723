// Package proctest runs real refbroker processes for tests: it builds the
// binary once per test process, starts brokers on loopback ports, waits on
// their log lines and kills them with SIGKILL.
package proctest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// moduleRoot finds the repository root from this source file's location.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary builds cmd/refbroker (once per test process) and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "refbroker-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "refbroker")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/refbroker")
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/refbroker: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Proc is one running refbroker.
type Proc struct {
	t    testing.TB
	Name string
	Args []string
	cmd  *exec.Cmd

	mu     sync.Mutex
	log    bytes.Buffer
	cond   *sync.Cond
	exited bool
	done   chan struct{}
}

// Start launches refbroker with args. The process is killed when the test ends.
func Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, Name: name, Args: args, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.cmd = exec.Command(Binary(t), args...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go p.collect(stderr)
	forgetDumpAtEnd(t)
	t.Cleanup(func() {
		if t.Failed() {
			dumpTestOnce(t) // before any broker is killed: the clients are still where they stalled
		}
		if t.Failed() && !p.Exited() {
			// A stall is easier to read with the broker's goroutines: the Go
			// runtime prints them to stderr (the log) on SIGQUIT and exits.
			_ = p.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
		}
		p.Kill()
		if t.Failed() {
			t.Logf("--- log of %s ---\n%s", name, p.Log())
		}
	})
	return p
}

var dumped sync.Map // testing.TB -> bool: the test process's goroutines were logged

// forgetDumpAtEnd registers, on a test's first Start, the cleanup that
// runs after all of its brokers' cleanups.
func forgetDumpAtEnd(t testing.TB) {
	if _, loaded := dumped.LoadOrStore(t, false); !loaded {
		t.Cleanup(func() { dumped.Delete(t) })
	}
}

// dumpTestOnce logs the test process's own goroutines (the clients' side
// of a stall), once per failed test.
func dumpTestOnce(t testing.TB) {
	if done, _ := dumped.Swap(t, true); done == true {
		return
	}
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	t.Logf("--- goroutines of the test process ---\n%s", buf)
}

func (p *Proc) collect(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.mu.Lock()
		p.log.WriteString(sc.Text())
		p.log.WriteByte('\n')
		p.cond.Broadcast()
		p.mu.Unlock()
	}
	_ = p.cmd.Wait()
	p.mu.Lock()
	p.exited = true
	p.cond.Broadcast()
	p.mu.Unlock()
	close(p.done)
}

// Log returns everything the broker logged so far.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// WaitLog waits until the log contains s, failing the test after within.
func (p *Proc) WaitLog(s string, within time.Duration) {
	p.t.Helper()
	if !p.waitLog(s, within) {
		p.t.Fatalf("%s did not log %q within %v; log:\n%s", p.Name, s, within, p.Log())
	}
}

func (p *Proc) waitLog(s string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	timer := time.AfterFunc(within, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for !strings.Contains(p.log.String(), s) {
		if p.exited || time.Now().After(deadline) {
			return strings.Contains(p.log.String(), s)
		}
		p.cond.Wait()
	}
	return true
}

// Logged reports whether the log contains s now.
func (p *Proc) Logged(s string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Contains(p.log.String(), s)
}

// Kill sends SIGKILL and waits for the process to exit.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to within for a graceful exit.
func (p *Proc) Stop(within time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			return fmt.Errorf("%s exited with status %d", p.Name, code)
		}
		return nil
	case <-time.After(within):
		p.Kill()
		return fmt.Errorf("%s did not stop within %v", p.Name, within)
	}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// ExitCode is the exit status (valid after Done).
func (p *Proc) ExitCode() int { return p.cmd.ProcessState.ExitCode() }

// Pid is the broker's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Memory reads the broker's resident set size now and at its peak
// (VmRSS and VmHWM, Linux only), in bytes.
func (p *Proc) Memory() (rss, peak int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		var kb int64
		if n, _ := fmt.Sscanf(line, "VmRSS: %d kB", &kb); n == 1 {
			rss = kb << 10
		}
		if n, _ := fmt.Sscanf(line, "VmHWM: %d kB", &kb); n == 1 {
			peak = kb << 10
		}
	}
	if rss == 0 || peak == 0 {
		return 0, 0, fmt.Errorf("no VmRSS/VmHWM in /proc/%d/status", p.Pid())
	}
	return rss, peak, nil
}
