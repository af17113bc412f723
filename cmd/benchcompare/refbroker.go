package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// refbrokerProc is one refbroker process. Its log goes to a file, read to
// tell when it serves or waits as a slave.
type refbrokerProc struct {
	bin, name, dataDir, logPath string
	port                        int
	extraArgs                   []string

	cmd    *exec.Cmd
	exited chan struct{} // closed by the goroutine that reaps cmd
}

func (p *refbrokerProc) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.port) }

func (p *refbrokerProc) Pid() int {
	if p.cmd == nil || p.cmd.Process == nil || p.done() {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *refbrokerProc) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func (p *refbrokerProc) Start(ctx context.Context) error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("refbroker %s: %w", p.name, err)
	}
	args := append([]string{
		"--broker-name", p.name, "--data-directory", p.dataDir,
		"--connector", fmt.Sprintf("stomp=stomp://127.0.0.1:%d", p.port),
		"--admin", "off", "--log-level", "info",
	}, p.extraArgs...)
	cmd := exec.Command(p.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start refbroker %s: %w", p.name, err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return waitFor(ctx, 30*time.Second, "refbroker "+p.name+" to start", func() (bool, error) {
		log, _ := os.ReadFile(p.logPath)
		switch {
		case p.done():
			return false, fmt.Errorf("refbroker %s exited during start; log:\n%s", p.name, log)
		case strings.Contains(string(log), "slave mode"):
			return true, nil
		case strings.Contains(string(log), " started"):
			return servesSTOMP(p.Addr()), nil
		}
		return false, nil
	})
}

func (p *refbrokerProc) Kill() error {
	if p.cmd == nil || p.done() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill refbroker %s: %w", p.name, err)
	}
	<-p.exited
	return nil
}

func (p *refbrokerProc) Stop() error {
	if p.cmd == nil || p.done() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(15 * time.Second):
		return p.Kill()
	}
}
