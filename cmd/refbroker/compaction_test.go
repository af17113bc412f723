package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/internal/testutil"
)

// Consuming 90% of a backlog whose survivors are spread over every journal
// file makes the broker compact them all; kill -9 lands at random points
// of that, six times; afterwards disk use is within 1.5x the live data and
// every surviving message is there exactly once, in order.
func TestCompactionSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "broker.yaml")
	if err := os.WriteFile(cfgPath, []byte("journalMaxFileLength: 1MiB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port, admin := testutil.FreePort(t), testutil.FreePort(t)
	args := []string{"--config", cfgPath}
	b := startBroker(t, "cp", dir, port, admin, args...)
	b.WaitLog("refbroker cp started", 20*time.Second)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	// In each round one message in every ten stays (it goes to /queue/keep,
	// the rest to /queue/work, interleaved, so every journal file keeps
	// some live data), the rest is consumed, and the broker is killed at a
	// random moment of the compaction that this starts.
	const perRound, rounds = 500, 6
	body := make([]byte, 1024)
	work := newOrderCheck(1)
	var before storeStatus
	for r := range rounds {
		c, err := gostomp.Dial("tcp", addr, gostomp.ConnOpt.HeartBeat(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		for i := r * perRound; i < (r+1)*perRound; i++ {
			if err := produceOn(c, "/queue/keep", 0, i, body, false); err != nil {
				t.Fatal(err)
			}
			for k := range 9 {
				if err := produceOn(c, "/queue/work", 0, i*9+k, body, k == 8 && i%10 == 9); err != nil {
					t.Fatal(err)
				}
			}
		}
		c.Disconnect()
		before = getStore(t, admin)
		consumeInOrder(t, addr, "/queue/work", work, func() bool { return work.count() >= (r+1)*perRound*9 })
		// A synced send makes the acks durable (held acks join the next
		// synced batch), so the kill cannot bring consumed messages back.
		c, err = gostomp.Dial("tcp", addr, gostomp.ConnOpt.HeartBeat(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if err := produceOn(c, "/queue/marker", 0, r, nil, true); err != nil {
			t.Fatal(err)
		}
		c.Disconnect()
		// Compaction takes a file 2 s after the journal rolled past it
		// (CompactionDelay), checked every 250 ms, and moves one file's
		// survivors at a time: a kill in the next 3 s lands before, inside
		// or after one of those moves.
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Millisecond)
		st := getStore(t, admin)
		b.Kill()
		t.Logf("kill %d: disk %.1f MiB, live %.1f MiB, files compacted %d, removed %d", r+1,
			float64(st.DiskBytes)/(1<<20), float64(st.LiveBytes)/(1<<20), st.Compacted, st.Removed)
		b = startBroker(t, "cp", dir, port, admin, args...)
		b.WaitLog("refbroker cp started", 20*time.Second)
	}
	var after storeStatus
	deadline := time.Now().Add(60 * time.Second)
	for {
		after = getStore(t, admin)
		if after.DiskBytes <= after.LiveBytes*3/2+2<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("disk %d bytes for %d live after a minute: want at most 1.5x (+ the active file and the reserve); files: %+v",
				after.DiskBytes, after.LiveBytes, after.Files)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("disk %.1f MiB before the last drain, %.1f MiB after compaction; live %.1f MiB",
		float64(before.DiskBytes)/(1<<20), float64(after.DiskBytes)/(1<<20), float64(after.LiveBytes)/(1<<20))

	keep := newOrderCheck(1)
	consumeInOrder(t, addr, "/queue/keep", keep, func() bool { return keep.count() >= rounds*perRound })
	if keep.dups != 0 {
		t.Fatalf("%d duplicates after compaction and kills", keep.dups)
	}
	// Nothing else is left: no consumed work message came back.
	leftover := 0
	leftover = pendingIn(t, admin, "queue://work")
	if leftover != 0 {
		c, _ := gostomp.Dial("tcp", addr)
		sub, _ := c.Subscribe("/queue/work", gostomp.AckAuto)
		for range min(leftover, 20) {
			m := <-sub.C
			t.Logf("left over: seq %s redelivered %s", m.Header.Get("seq"), m.Header.Get("redelivered"))
		}
		t.Fatalf("%d consumed work messages came back", leftover)
	}
}

// produceOn sends one persistent message numbered seq for producer p.
func produceOn(c *gostomp.Conn, dest string, p, seq int, body []byte, receipt bool) error {
	opts := []func(*frame.Frame) error{gostomp.SendOpt.Header("persistent", "true"),
		gostomp.SendOpt.Header("producer", fmt.Sprint(p)), gostomp.SendOpt.Header("seq", fmt.Sprint(seq))}
	if receipt {
		opts = append(opts, gostomp.SendOpt.Receipt)
	}
	return c.Send(dest, "application/octet-stream", body, opts...)
}

// pendingIn is dest's pending plus in-flight count from /api/destinations.
func pendingIn(t *testing.T, admin int, dest string) int {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/destinations", admin))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats []destStats
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range stats {
		if s.Destination == dest {
			n += s.Pending + s.InFlight
		}
	}
	return n
}
