package network

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"
)

// An announcer on the loopback interface is discovered, and its "dead"
// datagram on Close removes it at once; our own announcements are ignored.
func TestDiscoveryOnLoopback(t *testing.T) {
	uri := fmt.Sprintf("multicast://default?group=unit-%d-%d&networkInterface=lo&keepAliveInterval=50", os.Getpid(), time.Now().UnixNano())
	mc, _, err := parseMulticast(uri)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	d, err := listenMulticast(mc, "self", log)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	up, down := map[string]string{}, map[string]bool{}
	d.onUp = func(name, service string) { mu.Lock(); up[name] = service; mu.Unlock() }
	d.onDown = func(name string) { mu.Lock(); down[name] = true; mu.Unlock() }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.run(ctx) }()
	defer func() { cancel(); <-done }()

	self, err := Announce(uri, "self", "tcp://127.0.0.1:1", log)
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	peer, err := Announce(uri, "peer", "tcp://127.0.0.1:2", log)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return up["peer"] != "" }, "peer discovered")
	peer.Close()
	testutil.Eventually(t, 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return down["peer"] }, "peer dropped on its dead datagram")
	mu.Lock()
	defer mu.Unlock()
	if _, ok := up["self"]; ok {
		t.Error("a broker discovered itself")
	}
	if up["peer"] != "tcp://127.0.0.1:2" {
		t.Errorf("peer service %q", up["peer"])
	}
}
