//go:build interop

package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/internal/pgtest"
	"github.com/tethermq/tether/internal/testutil"
)

// jdbcLease is the lease of the JDBC tests: 1 s, renewed every 250 ms.
const (
	jdbcKeepAlive = 250 * time.Millisecond
	jdbcLease     = time.Second
)

// jdbcGroup starts n refbrokers on one PostgreSQL database (each with
// its own data directory: they share nothing else); the first is master.
func jdbcGroup(t *testing.T, url string, n int) []*chaosBroker {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "jdbc.yaml")
	yaml := fmt.Sprintf("persistenceAdapter:\n  jdbc:\n    url: %q\n    lockKeepAlivePeriod: %s\n    lockAcquireSleepInterval: %s\n",
		url, jdbcKeepAlive, jdbcLease)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var bs []*chaosBroker
	for i := range n {
		b := &chaosBroker{name: fmt.Sprintf("pg%d", i+1), port: testutil.FreePort(t), admin: testutil.FreePort(t),
			dir: t.TempDir(), config: cfg}
		b.start(t)
		if i == 0 {
			b.p.WaitLog("started", 20*time.Second)
		} else {
			b.p.WaitLog("slave mode", 20*time.Second)
		}
		bs = append(bs, b)
	}
	return bs
}

func jdbcFailoverURI(bs []*chaosBroker) string {
	var uris []string
	for _, b := range bs {
		uris = append(uris, fmt.Sprintf("tcp://127.0.0.1:%d", b.port))
	}
	return "failover:(" + strings.Join(uris, ",") + ")?randomize=false&maxReconnectDelay=200"
}

func currentMaster(t *testing.T, bs []*chaosBroker, within time.Duration) *chaosBroker {
	t.Helper()
	var m *chaosBroker
	testutil.Eventually(t, within, func() bool {
		var ms []*chaosBroker
		for _, b := range bs {
			if !b.p.Exited() && b.isMaster() {
				ms = append(ms, b)
			}
		}
		if len(ms) > 1 {
			t.Fatalf("%d masters at once", len(ms))
		}
		if len(ms) == 1 {
			m = ms[0]
		}
		return m != nil
	}, "a master")
	return m
}

// traffic is the chaos test's workload through the SDK: a plain and a
// grouped persistent producer, one client-ack consumer per queue.
type traffic struct {
	t             *testing.T
	ctx           context.Context
	cancel        context.CancelFunc
	log           *chaosLog
	stop          chan struct{}
	wg            sync.WaitGroup
	interruptions sync.Map
	confirmedAt   atomic.Int64 // sends confirmed, for the rate
	started       time.Time
}

func startTraffic(t *testing.T, uri string) *traffic {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	tr := &traffic{t: t, ctx: ctx, cancel: cancel, stop: make(chan struct{}), started: time.Now(),
		log: &chaosLog{confirmed: map[string]bool{}, received: map[string]int{}, lastSeq: map[string]int{}, perQueue: map[string]int{}, sentAt: map[string]time.Time{}}}
	t.Cleanup(func() { tr.cancel(); tr.wg.Wait() })
	dial := func(name string) *client.Conn {
		n := &atomic.Int64{}
		tr.interruptions.Store(name, n)
		c, err := client.Dial(ctx, uri, client.WithEventHandler(func(e client.Event) {
			if e.Kind == client.EventInterrupted {
				n.Add(1)
			}
		}), client.WithHeartBeat(time.Second, time.Second))
		if err != nil {
			t.Fatalf("dial %s: %v", name, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for _, q := range []string{"chaos.plain", "chaos.groups"} {
		c := dial("consumer-" + q)
		sub, err := c.Subscribe(ctx, "queue://"+q, client.AckIndividual, client.Prefetch(50))
		if err != nil {
			t.Fatal(err)
		}
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for {
				m, err := sub.Next(ctx)
				if err != nil {
					return
				}
				if err := m.Ack(ctx); err != nil {
					if ctx.Err() == nil {
						t.Errorf("ack: %v", err)
					}
					return
				}
				tr.log.gotMessage(q, string(m.Body()), m.GroupID(), m.GroupSeq())
			}
		}()
	}
	produce := func(name, q string, grouped bool) {
		defer tr.wg.Done()
		c := dial(name)
		seq := map[string]int{}
		for i := 0; ; i++ {
			select {
			case <-tr.stop:
				return
			default:
			}
			body := fmt.Sprintf("%s-%d", name, i)
			opts := []client.SendOption{client.Persistent()}
			if grouped {
				g := "g" + strconv.Itoa(i%10)
				seq[g]++
				body = fmt.Sprintf("%s:%s:%d", name, g, seq[g])
				opts = append(opts, client.Group(g), client.GroupSeq(seq[g]))
			}
			tr.log.mu.Lock()
			tr.log.sentAt[body] = time.Now()
			tr.log.mu.Unlock()
			if err := c.Send(ctx, "queue://"+q, []byte(body), opts...); err != nil {
				if ctx.Err() == nil {
					t.Errorf("send %s: %v", body, err)
				}
				return
			}
			tr.confirmedAt.Add(1)
			tr.log.mu.Lock()
			tr.log.confirmed[body] = true
			tr.log.mu.Unlock()
		}
	}
	tr.wg.Add(2)
	go produce("p-plain", "chaos.plain", false)
	go produce("p-groups", "chaos.groups", true)
	return tr
}

// flows waits until n more messages arrived on each queue.
func (tr *traffic) flows(n int, within time.Duration, what string) {
	tr.t.Helper()
	tr.log.mu.Lock()
	plain, grouped := tr.log.perQueue["chaos.plain"], tr.log.perQueue["chaos.groups"]
	tr.log.mu.Unlock()
	testutil.Eventually(tr.t, within, func() bool {
		tr.log.mu.Lock()
		defer tr.log.mu.Unlock()
		return tr.log.perQueue["chaos.plain"] >= plain+n && tr.log.perQueue["chaos.groups"] >= grouped+n
	}, "traffic on both queues %s", what)
}

// finish stops the producers, waits for every confirmed message and checks
// the contract: each received exactly once, each group in order.
func (tr *traffic) finish(minInterruptions int64) {
	t := tr.t
	t.Helper()
	close(tr.stop)
	testutil.Eventually(t, 30*time.Second, func() bool {
		tr.log.mu.Lock()
		defer tr.log.mu.Unlock()
		for body := range tr.log.confirmed {
			if tr.log.received[body] == 0 {
				return false
			}
		}
		return true
	}, "every confirmed message received")
	tr.cancel()
	tr.wg.Wait()
	tr.log.checkOnceInOrder(t)
	tr.interruptions.Range(func(k, v any) bool {
		if n := v.(*atomic.Int64).Load(); n < minInterruptions {
			t.Errorf("%s reported %d interruptions, want at least %d", k, n, minInterruptions)
		}
		return true
	})
}

// storedMessages counts the message keys ('m') left in the database.
func storedMessages(t *testing.T, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM tether_kv WHERE k >= 'm'::bytea AND k < 'n'::bytea`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestJDBCKillMasterTenTimes is the chaos test on PostgreSQL: three brokers
// on one database, exactly one master, SIGKILL of the master ten times
// under SDK traffic through failover:. Every confirmed message must reach
// the application exactly once and in group order, and nothing is left
// stored once everything is consumed.
func TestJDBCKillMasterTenTimes(t *testing.T) {
	c := pgtest.Start(t)
	url := c.CreateDB(t)
	bs := jdbcGroup(t, url, 3)
	if m := currentMaster(t, bs, 10*time.Second); m != bs[0] {
		t.Fatalf("master is %s, want the first started", m.name)
	}
	tr := startTraffic(t, jdbcFailoverURI(bs))
	tr.flows(200, 20*time.Second, "before the first kill")
	rate := float64(tr.confirmedAt.Load()) / time.Since(tr.started).Seconds()

	var failover []time.Duration
	for kill := 1; kill <= 10; kill++ {
		if kill > 1 {
			tr.flows(100, 20*time.Second, fmt.Sprintf("before kill %d", kill))
		}
		master := currentMaster(t, bs, 10*time.Second)
		tr.log.mu.Lock()
		tr.log.killAt, tr.log.firstAfter = time.Now(), time.Time{}
		tr.log.mu.Unlock()
		master.p.Kill()
		testutil.Eventually(t, 30*time.Second, func() bool {
			tr.log.mu.Lock()
			defer tr.log.mu.Unlock()
			return !tr.log.firstAfter.IsZero()
		}, "a message sent after kill %d received", kill)
		tr.log.mu.Lock()
		failover = append(failover, tr.log.firstAfter.Sub(tr.log.killAt))
		tr.log.mu.Unlock()
		master.start(t)
		master.p.WaitLog("slave mode", 20*time.Second)
	}
	tr.finish(10)
	testutil.Eventually(t, 10*time.Second, func() bool { return storedMessages(t, url) == 0 },
		"no message left stored after everything was consumed")
	slices.Sort(failover)
	t.Logf("PostgreSQL, lease %v: %.0f persistent confirmed sends/s (2 producers, 2 consumers, before the first kill); confirmed %d, received %d distinct; failover (SIGKILL to first message via the new master) over %d kills: median %v, p95 %v, max %v",
		jdbcLease, rate, len(tr.log.confirmed), len(tr.log.received), len(failover), failover[len(failover)/2].Round(time.Millisecond),
		failover[len(failover)*95/100].Round(time.Millisecond), failover[len(failover)-1].Round(time.Millisecond))
}

// stompExchange opens a raw STOMP connection to addr.
func stompConnect(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := bufio.NewReader(nc)
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte("CONNECT\naccept-version:1.2\nhost:x\n\n\x00")); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, r); !strings.HasPrefix(f, "CONNECTED") {
		t.Fatalf("connect: %q", f)
	}
	return nc, r
}

func readFrame(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	for {
		f, err := r.ReadString(0)
		if err != nil {
			return "error: " + err.Error()
		}
		if f = strings.TrimLeft(f, "\r\n"); f != "\x00" && f != "" {
			return f
		}
	}
}

func sendFrame(body, receipt string) []byte {
	return []byte("SEND\ndestination:/queue/fence\npersistent:true\nreceipt:" + receipt + "\n\n" + body + "\x00")
}

// TestJDBCPausedMasterCannotWrite: a master stopped (SIGSTOP) past its
// lease is replaced; when it resumes (SIGCONT) it must step down without
// storing anything, even the send that was waiting in its socket.
func TestJDBCPausedMasterCannotWrite(t *testing.T) {
	c := pgtest.Start(t)
	url := c.CreateDB(t)
	bs := jdbcGroup(t, url, 2)
	a, b := bs[0], bs[1]
	addrA := fmt.Sprintf("127.0.0.1:%d", a.port)
	nc, r := stompConnect(t, addrA)
	if _, err := nc.Write(sendFrame("before", "r1")); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, r); !strings.HasPrefix(f, "RECEIPT") {
		t.Fatalf("send before the pause: %q", f)
	}
	if err := syscall.Kill(a.p.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// kill(2) returns before every thread has stopped: wait for the
	// stopped state, or the broker could still read the frame below.
	testutil.Eventually(t, 5*time.Second, func() bool { return allThreadsStopped(a.p.Pid()) }, "every thread of the master is stopped")
	stopped := time.Now()
	resumed := false
	defer func() {
		if !resumed {
			_ = syscall.Kill(a.p.Pid(), syscall.SIGCONT)
		}
	}()
	// Queued in the paused broker's socket: it reads this when it resumes.
	const stale = "stale-from-the-paused-master"
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := nc.Write(sendFrame(stale, "r2")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, b.isMaster, "the slave took over from the paused master")
	took := time.Since(stopped)
	if took < jdbcLease*3/4 {
		t.Fatalf("took over %v after the pause, inside the lease (%v)", took, jdbcLease)
	}
	ncB, rB := stompConnect(t, fmt.Sprintf("127.0.0.1:%d", b.port))
	if _, err := ncB.Write(sendFrame("after", "r3")); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, rB); !strings.HasPrefix(f, "RECEIPT") {
		t.Fatalf("send to the new master: %q", f)
	}
	_ = syscall.Kill(a.p.Pid(), syscall.SIGCONT)
	resumed = true
	select {
	case <-a.p.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("the resumed old master did not stop; log:\n%s", a.p.Log())
	}
	if code := a.p.ExitCode(); code != 1 {
		t.Fatalf("old master exit status %d, want 1", code)
	}
	if !a.p.Logged("database lease lost") {
		t.Fatalf("old master did not log the lost lease:\n%s", a.p.Log())
	}
	// The stale send was never confirmed...
	if f := readFrame(t, r); strings.HasPrefix(f, "RECEIPT") {
		t.Fatalf("the paused master confirmed a send after it was replaced: %q", f)
	}
	// ...and is not in the database; what both masters confirmed is.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func(body string) int {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM tether_kv WHERE position($1::bytea in v) > 0", []byte(body)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(stale); n != 0 {
		t.Fatalf("the paused master stored %d rows after it was replaced", n)
	}
	if count("before") != 1 || count("after") != 1 {
		t.Fatalf("confirmed messages stored: before %d, after %d", count("before"), count("after"))
	}
	t.Logf("takeover %v after SIGSTOP (lease %v); old master after SIGCONT: %s", took.Round(time.Millisecond), jdbcLease,
		strings.TrimSpace(lastLine(a.p.Log(), "database lease lost")))
}

func lastLine(log, containing string) string {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], containing) {
			return lines[i]
		}
	}
	return ""
}

// TestJDBCDatabaseRestart restarts PostgreSQL in the middle of SDK traffic:
// the master steps down (or rides through), a broker serves again once the
// database is back, and nothing confirmed is lost or delivered twice.
func TestJDBCDatabaseRestart(t *testing.T) {
	c := pgtest.Start(t)
	url := c.CreateDB(t)
	bs := jdbcGroup(t, url, 2)
	tr := startTraffic(t, jdbcFailoverURI(bs))
	tr.flows(200, 20*time.Second, "before the restart")
	c.Restart(t)
	restarted := time.Now()
	// Brokers that stepped down exit (status 1); bring them back as the
	// refbroker service manager would.
	var served time.Duration
	testutil.Eventually(t, 30*time.Second, func() bool {
		for _, b := range bs {
			if b.p.Exited() {
				b.start(t)
			}
		}
		tr.log.mu.Lock()
		defer tr.log.mu.Unlock()
		if served == 0 && !tr.log.lastRecv.Before(restarted) {
			served = time.Since(restarted)
		}
		return served != 0
	}, "traffic after the database restart")
	tr.flows(200, 30*time.Second, "after the database restart")
	tr.finish(0)
	testutil.Eventually(t, 10*time.Second, func() bool { return storedMessages(t, url) == 0 },
		"no message left stored after everything was consumed")
	steppedDown := 0
	for _, b := range bs {
		if strings.Contains(b.p.Log(), "database lease lost") {
			steppedDown++
		}
	}
	t.Logf("database restart: traffic again %v after pg_ctl restart returned; confirmed %d, received %d distinct; log of a broker that stepped down: %d",
		served.Round(time.Millisecond), len(tr.log.confirmed), len(tr.log.received), steppedDown)
}

// TestJDBCDatabaseOutage stops PostgreSQL for several leases under SDK
// traffic: the master must stop serving within its lease (it cannot renew),
// no broker serves while the database is gone, and once it is back a broker
// takes over and every confirmed message is delivered exactly once.
func TestJDBCDatabaseOutage(t *testing.T) {
	c := pgtest.Start(t)
	url := c.CreateDB(t)
	bs := jdbcGroup(t, url, 2)
	tr := startTraffic(t, jdbcFailoverURI(bs))
	tr.flows(200, 20*time.Second, "before the outage")
	master := currentMaster(t, bs, 5*time.Second)
	c.StopServer(t)
	down := time.Now()
	// Serving ends when the client port closes: well within the lease,
	// which the database would let expire a lease after the master's last
	// renewal, itself before pg_ctl stop returned.
	testutil.Eventually(t, 5*jdbcLease, func() bool {
		nc, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", master.port), 100*time.Millisecond)
		if err != nil {
			return true
		}
		nc.Close()
		return false
	}, "the master's client port closes")
	stepDown := time.Since(down)
	if stepDown > jdbcLease {
		t.Errorf("the master stopped serving %v after the database went, lease %v", stepDown, jdbcLease)
	}
	select {
	case <-master.p.Done():
	case <-time.After(5 * jdbcLease):
		t.Fatalf("the master still runs %v after the database went", time.Since(down))
	}
	exited := time.Since(down)
	if !master.p.Logged("database lease lost") || master.p.ExitCode() != 1 {
		t.Fatalf("master exit %d; log:\n%s", master.p.ExitCode(), master.p.Log())
	}
	// Nobody may serve without the database.
	deadline := time.Now().Add(2 * jdbcLease)
	for time.Now().Before(deadline) {
		for _, b := range bs {
			if !b.p.Exited() && b.isMaster() {
				t.Fatalf("%s serves while the database is down", b.name)
			}
		}
		time.Sleep(50 * time.Millisecond) // sampling, not synchronisation
	}
	c.StartServer(t)
	up := time.Now()
	master.start(t) // back as a slave, as a supervisor would
	tr.flows(200, 30*time.Second, "after the outage")
	tr.finish(1)
	testutil.Eventually(t, 10*time.Second, func() bool { return storedMessages(t, url) == 0 },
		"no message left stored after everything was consumed")
	t.Logf("database outage: master closed its client port %v and exited %v after pg_ctl stop returned (lease %v); traffic resumed %v after the database came back; confirmed %d, received %d distinct",
		stepDown.Round(time.Millisecond), exited.Round(time.Millisecond), jdbcLease, time.Since(up).Round(time.Millisecond), len(tr.log.confirmed), len(tr.log.received))
}

// allThreadsStopped reports whether every thread of pid is in the stopped
// state (T in /proc/<pid>/task/<tid>/stat).
func allThreadsStopped(pid int) bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			return false
		}
		// tid (comm) state ...: comm may contain spaces, so cut after the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
}
