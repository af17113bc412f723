// Package testutil holds helpers shared by tests: free loopback ports below the
// ephemeral range, and condition waits with deadlines (tests never sleep to
// synchronise).
package testutil

import (
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	portMu   sync.Mutex
	portUsed = map[int]bool{}
)

// FreePort returns a TCP port on 127.0.0.1 that is free now, chosen below the
// kernel's ephemeral range (32768) so that no outgoing connection can take it
// between this call and a later bind, and never handed out twice in one process.
func FreePort(t testing.TB) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 1000 {
		p := 20000 + rand.IntN(12000)
		if portUsed[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		portUsed[p] = true
		return p
	}
	t.Fatal("testutil: no free port found below 32000")
	return 0
}

// Eventually polls cond every few milliseconds until it returns true or the
// deadline passes, in which case the test fails with msg.
func Eventually(t testing.TB, within time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			// A wait that runs out is usually a stall: the goroutines of the
			// in-process brokers and clients say where.
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Logf("goroutines when the wait ran out:\n%s", buf)
			t.Fatalf("condition not met within %v: "+msg+" (the values are from when the wait began)", append([]any{within}, args...)...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
