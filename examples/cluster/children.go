package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is one broker process of the demo.
type child struct {
	name        string
	dir         string
	port, admin int
	network     string
	cmd         *exec.Cmd
	done        chan struct{}
}

func newChild(name, dir, network string) (*child, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	admin, err := freePort()
	if err != nil {
		return nil, err
	}
	return &child{name: name, dir: dir, port: port, admin: admin, network: network}, nil
}

func (c *child) uri() string { return "tcp://127.0.0.1:" + strconv.Itoa(c.port) }

// start runs this program again in broker mode.
func (c *child) start(logs io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"-broker", "-name", c.name, "-dir", c.dir, "-port", strconv.Itoa(c.port), "-admin", strconv.Itoa(c.admin)}
	if c.network != "" {
		args = append(args, "-network", c.network)
	}
	c.cmd = exec.Command(self, args...)
	c.cmd.Stdout, c.cmd.Stderr = logs, logs
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	c.done = make(chan struct{})
	go func() {
		_ = c.cmd.Wait()
		close(c.done)
	}()
	return nil
}

// role asks the broker's admin port: "master", "slave", or "" if it does
// not answer.
func (c *child) role() string {
	cl := http.Client{Timeout: time.Second}
	resp, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", c.admin))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

func (c *child) waitRole(ctx context.Context, want string) error {
	return waitFor(ctx, 30*time.Second, c.name+" is "+want, func() bool { return c.role() == want })
}

// kill is a crash: SIGKILL, no goodbye to anyone.
func (c *child) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// stop asks for a clean shutdown, and kills after a while.
func (c *child) stop() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.kill()
	}
}

// waitFor polls cond until it holds, ctx ends or within passes.
func waitFor(ctx context.Context, within time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting until %s", what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// freePort picks a free port below the kernel's ephemeral range (32768),
// so that no outgoing connection takes it before the broker binds it.
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
	return 0, fmt.Errorf("no free port below 32000")
}
