package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// broker is one broker process this program started, of either kind.
type broker interface {
	// Start launches the process and returns once it serves or waits as a
	// slave of a shared store.
	Start(ctx context.Context) error
	// Kill sends SIGKILL and returns once the process is gone.
	Kill() error
	// Stop shuts the broker down gracefully (SIGKILL after a grace period).
	Stop() error
	// Pid is the broker's process id (0 when not running).
	Pid() int
	// Addr is the STOMP address, host:port.
	Addr() string
}

// servesSTOMP reports whether addr completes a STOMP handshake now: a slave
// opens no client port, so this tells the master from the slave.
func servesSTOMP(addr string) bool {
	nc, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := nc.Write([]byte("CONNECT\naccept-version:1.2\nhost:localhost\n\n\x00")); err != nil {
		return false
	}
	buf := make([]byte, 9)
	n, _ := nc.Read(buf)
	return n == 9 && string(buf) == "CONNECTED"
}

// waitFor polls cond every 10 ms until it holds, ctx ends or within passes.
// Process start-up and lock takeover announce themselves only in log files
// and on ports, so polling is the only way to see them.
func waitFor(ctx context.Context, within time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(within)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v", what, within)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// alive reports whether pid is a running process; a zombie (killed, not yet
// reaped by its parent) counts as gone: it holds no locks and no ports.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may hold spaces.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}

// killPid sends SIGKILL to pid and waits until it is gone.
func killPid(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("kill -9 %d: %w", pid, err)
	}
	return waitFor(context.Background(), 10*time.Second, fmt.Sprintf("pid %d to exit", pid), func() (bool, error) {
		return !alive(pid), nil
	})
}
