package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// activemqProc is one ActiveMQ 5.17 instance run by the scripts in
// /work/shared/activemq (start.sh, stop.sh), STOMP only.
type activemqProc struct {
	scripts, runRoot, name, dataDir string
	port                            int
	// lockIntervalMS is the slave's lockAcquireSleepInterval; 0 keeps
	// ActiveMQ's default (10 s).
	lockIntervalMS int
	// jdbc, when set, stores in PostgreSQL instead of KahaDB: the broker
	// is then started by startJDBC (activemq_jdbc.go), not start.sh.
	jdbc *amqJDBC
	// exited is closed when a broker started by startJDBC has been reaped.
	exited chan struct{}
}

func (a *activemqProc) Addr() string { return fmt.Sprintf("127.0.0.1:%d", a.port) }

func (a *activemqProc) script(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(a.scripts, name), args...)
	cmd.Env = append(os.Environ(), "AMQ_RUN_ROOT="+a.runRoot, "AMQ_START_TIMEOUT=90", "AMQ_STOP_TIMEOUT=20")
	if a.lockIntervalMS > 0 {
		cmd.Env = append(cmd.Env, "AMQ_LOCK_INTERVAL_MS="+strconv.Itoa(a.lockIntervalMS))
	}
	return cmd
}

// Start runs start.sh, which returns once the broker logged that it started
// (master) or waits for the lock (slave).
func (a *activemqProc) Start(ctx context.Context) error {
	if a.jdbc != nil {
		return a.startJDBC(ctx)
	}
	out, err := a.script(ctx, "start.sh", a.name, strconv.Itoa(a.port), "0", "0", "0", a.dataDir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("start.sh %s: %w\n%s", a.name, err, out)
	}
	if strings.Contains(string(out), "MASTER") {
		return waitFor(ctx, 30*time.Second, "ActiveMQ "+a.name+" STOMP port", func() (bool, error) {
			return servesSTOMP(a.Addr()), nil
		})
	}
	return nil
}

func (a *activemqProc) Pid() int {
	data, err := os.ReadFile(filepath.Join(a.runRoot, a.name, "broker.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if !alive(pid) {
		return 0
	}
	return pid
}

// Kill signals the JVM directly (stop.sh would add a shell's start-up time
// to the measured failover) and removes the pid file, as stop.sh would: the
// dead JVM may linger as a zombie of init, which stop.sh takes for a
// stranger's process.
func (a *activemqProc) Kill() error {
	if pid := a.Pid(); pid > 0 {
		if err := killPid(pid); err != nil {
			return err
		}
	}
	if err := os.Remove(filepath.Join(a.runRoot, a.name, "broker.pid")); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("ActiveMQ %s: %w", a.name, err)
	}
	return nil
}

// Stop runs stop.sh (SIGTERM, then SIGKILL after 20 s) if the broker runs.
func (a *activemqProc) Stop() error {
	if a.Pid() == 0 {
		return nil
	}
	out, err := a.script(context.Background(), "stop.sh", a.name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("stop.sh %s: %w\n%s", a.name, err, out)
	}
	return nil
}

var amqVersionRE = regexp.MustCompile(`Apache ActiveMQ (\d+\.\d+\.\d+)`)

// version reads the broker's version from its log, "" if not found.
func (a *activemqProc) version() string {
	log, _ := os.ReadFile(filepath.Join(a.runRoot, a.name, "broker.log"))
	if m := amqVersionRE.FindSubmatch(log); m != nil {
		return string(m[1])
	}
	return ""
}
