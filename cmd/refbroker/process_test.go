package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/tethermq/tether/internal/proctest"
	"github.com/tethermq/tether/internal/testutil"
)

func startBroker(t *testing.T, name, dir string, port, admin int, extra ...string) *proctest.Proc {
	args := append([]string{"--broker-name", name, "--data-directory", dir,
		"--connector", fmt.Sprintf("stomp=stomp://127.0.0.1:%d", port),
		"--admin", fmt.Sprintf("127.0.0.1:%d", admin), "--log-level", "debug"}, extra...)
	return proctest.Start(t, name, args...)
}

func TestKill9LosesNoReceiptedMessage(t *testing.T) {
	dir := t.TempDir()
	port, admin := testutil.FreePort(t), testutil.FreePort(t)
	b := startBroker(t, "k1", dir, port, admin)
	b.WaitLog("refbroker k1 started", 20*time.Second)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	c, err := gostomp.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		err := c.Send("/queue/durable", "text/plain", []byte(strconv.Itoa(i)),
			gostomp.SendOpt.Receipt, gostomp.SendOpt.Header("persistent", "true"))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	// A non-persistent message does not survive.
	if err := c.Send("/queue/durable", "text/plain", []byte("np"), gostomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	b.Kill()
	_ = c.MustDisconnect()

	b2 := startBroker(t, "k1", dir, port, admin)
	b2.WaitLog("refbroker k1 started", 20*time.Second)
	if !b2.Logged("messages=1000") {
		t.Errorf("recovery did not report 1000 messages:\n%s", b2.Log())
	}
	// go-stomp delivers and writes on one goroutine: with 1,000 messages
	// prefetched, an ACK waiting for room in a small write channel would
	// deadlock it, so give the channel room for every ack.
	c2, err := gostomp.Dial("tcp", addr, gostomp.ConnOpt.WriteChannelCapacity(2000))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Disconnect()
	s, err := c2.Subscribe("/queue/durable", gostomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		select {
		case m := <-s.C:
			if m.Err != nil {
				t.Fatal(m.Err)
			}
			if string(m.Body) != strconv.Itoa(i) {
				t.Fatalf("message %d: got %q", i, m.Body)
			}
			// Ack with a receipt: these must never come back.
			if i < 500 {
				if err := c2.Ack(m); err != nil {
					t.Fatal(err)
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of 1000 messages after restart", i)
		}
	}
	select {
	case m := <-s.C:
		t.Fatalf("unexpected extra message %q", m.Body)
	case <-time.After(100 * time.Millisecond):
	}
	// Receipted acks (client-individual with receipt) survive a second kill.
	ackReceipt(t, c2, s)
	b2.Kill()
	b3 := startBroker(t, "k1", dir, port, admin)
	b3.WaitLog("refbroker k1 started", 20*time.Second)
	// 500 unacked on /queue/durable plus the persistent flush message.
	if !b3.Logged("messages=501") {
		t.Errorf("after receipted acks of 500, recovery should hold 500+1:\n%s", b3.Log())
	}
}

// ackReceipt makes sure every ACK sent so far was processed: the broker
// processes frames in order, so a receipt for a later frame covers them.
func ackReceipt(t *testing.T, c *gostomp.Conn, s *gostomp.Subscription) {
	t.Helper()
	if err := c.Send("/queue/flush", "text/plain", nil, gostomp.SendOpt.Receipt, gostomp.SendOpt.Header("persistent", "true")); err != nil {
		t.Fatal(err)
	}
}

func TestGracefulStopAndConfigErrors(t *testing.T) {
	dir := t.TempDir()
	port, admin := testutil.FreePort(t), testutil.FreePort(t)
	b := startBroker(t, "g1", dir, port, admin)
	b.WaitLog("refbroker g1 started", 20*time.Second)
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", admin))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(body)) != "master" || resp.StatusCode != 200 {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body)
	}
	if err := b.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !b.Logged("refbroker g1 stopped") {
		t.Fatalf("no stop line:\n%s", b.Log())
	}

	cfgPath := filepath.Join(t.TempDir(), "bad.yaml")
	cases := map[string]string{
		"brokerName: x\nnoSuchField: 1\n":                               "noSuchField",
		"transportConnectors:\n  - {name: s, uri: 'ftp://0.0.0.0:1'}\n": "transportConnectors[0].uri",
		"memoryLimit: lots\n":                                           "bad size",
	}
	for text, want := range cases {
		if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		p := proctest.Start(t, "bad", "--config", cfgPath)
		<-p.Done()
		if p.ExitCode() != 2 || !strings.Contains(p.Log(), want) {
			t.Errorf("config %q: exit %d, log %q (want status 2 naming %q)", text, p.ExitCode(), p.Log(), want)
		}
	}
}
