package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/proctest"
	"github.com/tethermq/tether/internal/testutil"
)

type member struct {
	name        string
	port, admin int
	p           *proctest.Proc
}

func (m *member) addr() string { return fmt.Sprintf("127.0.0.1:%d", m.port) }

// accepts reports whether the member completes a STOMP handshake now.
func (m *member) accepts() bool {
	nc, err := net.DialTimeout("tcp", m.addr(), 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := nc.Write([]byte("CONNECT\naccept-version:1.2\n\n\x00")); err != nil {
		return false
	}
	buf := make([]byte, 9)
	n, _ := nc.Read(buf)
	return n == 9 && string(buf) == "CONNECTED"
}

func startGroup(t *testing.T, dir string, n int, extra ...string) []*member {
	var ms []*member
	for i := range n {
		m := &member{name: fmt.Sprintf("ms%d", i+1), port: testutil.FreePort(t), admin: testutil.FreePort(t)}
		m.p = startBroker(t, m.name, dir, m.port, m.admin, extra...)
		ms = append(ms, m)
		if i == 0 {
			m.p.WaitLog("started", 20*time.Second)
		}
	}
	return ms
}

func masters(ms []*member) []*member {
	var out []*member
	for _, m := range ms {
		if !m.p.Exited() && m.accepts() {
			out = append(out, m)
		}
	}
	return out
}

func TestThreeBrokersOneMaster(t *testing.T) {
	dir := t.TempDir()
	ms := startGroup(t, dir, 3)
	for _, m := range ms[1:] {
		m.p.WaitLog("is locked by another server. This broker is now in slave mode waiting a lock to be acquired", 20*time.Second)
	}
	if got := masters(ms); len(got) != 1 || got[0] != ms[0] {
		t.Fatalf("masters: %v", names(got))
	}
	// Slaves open no client port: connections are refused.
	for _, m := range ms[1:] {
		if nc, err := net.DialTimeout("tcp", m.addr(), time.Second); err == nil {
			nc.Close()
			t.Fatalf("slave %s accepted a TCP connection", m.name)
		}
	}
	killed := time.Now()
	ms[0].p.Kill()
	var next *member
	testutil.Eventually(t, 10*time.Second, func() bool {
		got := masters(ms)
		if len(got) > 1 {
			t.Fatalf("two masters: %v", names(got))
		}
		if len(got) == 1 {
			next = got[0]
		}
		return next != nil
	}, "a slave took over")
	t.Logf("takeover: %s serves %v after the SIGKILL", next.name, time.Since(killed).Round(time.Millisecond))
	// Exactly one of the remaining two serves; the other still waits.
	for _, m := range ms[1:] {
		if m != next && m.accepts() {
			t.Fatalf("%s serves too", m.name)
		}
	}
}

func names(ms []*member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.name)
	}
	return out
}

func TestFencingWhenTheLockFileIsReplaced(t *testing.T) {
	for _, how := range []string{"delete", "replace"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			ms := startGroup(t, dir, 2, "--lock-keepalive", "200ms")
			ms[1].p.WaitLog("slave mode", 20*time.Second)
			lockPath := filepath.Join(dir, "lock")
			switch how {
			case "delete":
				if err := os.Remove(lockPath); err != nil {
					t.Fatal(err)
				}
			case "replace":
				tmp := lockPath + ".new"
				if err := os.WriteFile(tmp, []byte("intruder"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(tmp, lockPath); err != nil {
					t.Fatal(err)
				}
			}
			// Watch continuously: at no moment may both accept clients.
			deadline := time.Now().Add(15 * time.Second)
			for {
				a, b := ms[0].accepts(), ms[1].accepts()
				if a && b {
					t.Fatal("both brokers accept clients at once")
				}
				if !a && b && ms[0].p.Exited() {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no clean handover: old master accepts=%v exited=%v, new accepts=%v\n%s", a, ms[0].p.Exited(), b, ms[0].p.Log())
				}
			}
			ms[0].p.WaitLog("master lock lost", time.Second)
			if code := ms[0].p.ExitCode(); code != 1 {
				t.Fatalf("fenced master exit status %d, want 1", code)
			}
		})
	}
}
