//go:build interop

package mqtt_test

// Interoperability: the MQTT adapter against third-party brokers, mosquitto
// (Debian package mosquitto) and ActiveMQ Classic 5.17's MQTT connector
// (Debian packages activemq and libmqtt-client-java, run through
// /work/shared/activemq/start.sh). Run with: go test -tags interop ./client/mqtt/

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/failover/session"
	"github.com/tethermq/tether/internal/testutil"
)

// externalBroker is a broker process the test started and stops.
type externalBroker struct {
	port  int
	start func()
	stop  func()
}

func (b *externalBroker) uri() string { return fmt.Sprintf("mqtt://127.0.0.1:%d", b.port) }

// waitListening waits until something accepts TCP on port.
func waitListening(t testing.TB, port int, within time.Duration) {
	t.Helper()
	testutil.Eventually(t, within, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "nothing listening on port %d", port)
}

// startMosquitto runs /usr/sbin/mosquitto on a free port with persistence
// off, and stops it at the end of the test.
func startMosquitto(t testing.TB) *externalBroker {
	t.Helper()
	const bin = "/usr/sbin/mosquitto"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v (apt-get install -y mosquitto)", bin, err)
	}
	b := &externalBroker{port: testutil.FreePort(t)}
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	text := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n", b.port)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		cmd *exec.Cmd
	)
	b.start = func() {
		c := exec.Command(bin, "-c", conf)
		if err := c.Start(); err != nil {
			t.Fatalf("mosquitto: %v", err)
		}
		mu.Lock()
		cmd = c
		mu.Unlock()
		waitListening(t, b.port, 10*time.Second)
	}
	b.stop = func() {
		mu.Lock()
		c := cmd
		cmd = nil
		mu.Unlock()
		if c == nil {
			return
		}
		_ = c.Process.Signal(syscall.SIGTERM)
		exited := make(chan struct{})
		go func() { _ = c.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = c.Process.Kill()
			<-exited
		}
	}
	b.start()
	t.Cleanup(b.stop)
	return b
}

// startActiveMQ runs ActiveMQ 5.17 with only its MQTT connector, its files
// under the test's temporary directory, and stops it at the end of the test.
func startActiveMQ(t testing.TB) *externalBroker {
	t.Helper()
	scripts := testutil.ActiveMQScripts(t)
	root, data := t.TempDir(), t.TempDir()
	name := "tether-it-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(testutil.FreePort(t))
	b := &externalBroker{port: testutil.FreePort(t)}
	run := func(script string, args ...string) {
		cmd := exec.Command(filepath.Join(scripts, script), args...)
		cmd.Env = append(os.Environ(), "AMQ_RUN_ROOT="+root)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", script, args, err, out)
		}
	}
	b.start = func() {
		run("start.sh", name, "0", "0", strconv.Itoa(b.port), "0", data)
		waitListening(t, b.port, 30*time.Second)
	}
	b.stop = func() { run("stop.sh", name) }
	t.Cleanup(b.stop) // registered first: stops a broker whose start half-failed too
	b.start()
	return b
}

// interopContract runs the session contract against a real broker.
func interopContract(t *testing.T, b *externalBroker) {
	t.Run("publish subscribe ack", func(t *testing.T) {
		cfg := session.Config{ClientID: "tether-reader-" + t.Name()}
		s := dial(t, b.uri(), cfg)
		ctx := testCtx(t, 15*time.Second)
		in := newInbox()
		spec := session.SubscribeSpec{ID: "s", Destination: topic("it.sensors.*"), Ack: session.AckIndividual, Priority: -1}
		if err := s.Subscribe(ctx, spec, in.Deliver); err != nil {
			t.Fatal(err)
		}
		pub := dial(t, b.uri(), session.Config{})
		send(t, pub, persistentMsg(topic("it.sensors.t1"), "21.5"))
		d := in.Next(t)
		if string(d.Body) != "21.5" || d.Destination != topic("it.sensors.t1") || !d.Persistent {
			t.Errorf("delivery %+v", d)
		}
		if err := s.Ack(ctx, d, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.Unsubscribe(ctx, "s"); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatalf("close (with its UNSUBSCRIBE barrier): %v", err)
		}
	})
	t.Run("persistent session redelivers unacked", func(t *testing.T) {
		cfg := session.Config{ClientID: "tether-worker-" + t.Name()}
		ctx := testCtx(t, 30*time.Second)
		spec := session.SubscribeSpec{ID: "w", Destination: topic("it.jobs"), Ack: session.AckClient, Priority: -1}
		s := dial(t, b.uri(), cfg)
		in := newInbox()
		if err := s.Subscribe(ctx, spec, in.Deliver); err != nil {
			t.Fatal(err)
		}
		pub := dial(t, b.uri(), session.Config{})
		for _, body := range []string{"a", "b", "c"} {
			send(t, pub, persistentMsg(topic("it.jobs"), body))
		}
		var got []*session.Delivery
		for range 3 {
			got = append(got, in.Next(t))
		}
		if err := s.Ack(ctx, got[1], ""); err != nil { // a and b
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		send(t, pub, persistentMsg(topic("it.jobs"), "while away"))
		s2 := dial(t, b.uri(), cfg)
		in2 := newInbox()
		if err := s2.Subscribe(ctx, spec, in2.Deliver); err != nil {
			t.Fatal(err)
		}
		first, second := in2.Next(t), in2.Next(t)
		if string(first.Body) != "c" || !first.Redelivered || string(second.Body) != "while away" {
			t.Errorf("after reconnect: %q (redelivered %v), %q; want c redelivered, then the one sent while away",
				first.Body, first.Redelivered, second.Body)
		}
		if err := s2.Ack(ctx, second, ""); err != nil {
			t.Fatal(err)
		}
		if err := s2.Unsubscribe(ctx, "w"); err != nil { // ends the durable subscription
			t.Fatal(err)
		}
	})
	t.Run("qos 0", func(t *testing.T) {
		s := dial(t, b.uri(), session.Config{})
		ctx := testCtx(t, 15*time.Second)
		in := newInbox()
		if err := s.Subscribe(ctx, session.SubscribeSpec{ID: "a", Destination: topic("it.ticks"), Priority: -1}, in.Deliver); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Send(ctx, &session.Outgoing{Destination: topic("it.ticks"), Body: []byte("t"), Priority: -1}); err != nil {
			t.Fatal(err)
		}
		if d := in.Next(t); string(d.Body) != "t" || d.Persistent {
			t.Errorf("delivery %+v", d)
		}
	})
}

func TestInteropMosquitto(t *testing.T) {
	b := startMosquitto(t)
	interopContract(t, b)

	t.Run("failover between two brokers", func(t *testing.T) {
		other := startMosquitto(t)
		c, ev := dialConn(t, "failover:("+b.uri()+","+other.uri()+")?"+fast, client.WithClientID("tether-roamer"))
		ctx := testCtx(t, 30*time.Second)
		sub, err := c.Subscribe(ctx, "topic://it.prices.*", client.AckIndividual)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send(ctx, "topic://it.prices.eur", []byte("on-a"), client.Persistent()); err != nil {
			t.Fatal(err)
		}
		if m, err := sub.Next(ctx); err != nil || string(m.Body()) != "on-a" {
			t.Fatalf("%v %v", m, err)
		}
		b.stop()
		if err := c.Send(ctx, "topic://it.prices.eur", []byte("on-b"), client.Persistent()); err != nil {
			t.Fatalf("send during failover: %v", err)
		}
		m, err := sub.Next(ctx)
		if err != nil || string(m.Body()) != "on-b" {
			t.Fatalf("after failover: %v %v", m, err)
		}
		if c.URI() != other.uri() {
			t.Errorf("on %s, want %s", c.URI(), other.uri())
		}
		ev.WaitCount(t, client.EventResumed, 1)
	})
}

func TestInteropActiveMQ(t *testing.T) {
	b := startActiveMQ(t)
	interopContract(t, b)

	t.Run("done when the broker stops", func(t *testing.T) {
		s := dial(t, b.uri(), session.Config{})
		b.stop()
		select {
		case <-s.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("Done not closed after the broker stopped")
		}
		b.start()
	})

	// ActiveMQ keeps persistent messages and durable subscriptions in
	// KahaDB: a restart mid-stream loses nothing confirmed.
	t.Run("broker restart mid-stream", func(t *testing.T) {
		uri := "failover:(" + b.uri() + ")?" + fast
		producer, _ := dialConn(t, uri)
		consumer, _ := dialConn(t, uri, client.WithClientID("tether-orders"))
		ctx := testCtx(t, 120*time.Second)
		sub, err := consumer.Subscribe(ctx, "topic://it.orders", client.AckIndividual)
		if err != nil {
			t.Fatal(err)
		}
		const total = 200
		var (
			mu        sync.Mutex
			confirmed = map[string]bool{}
			received  = map[string]int{}
		)
		stopped := make(chan struct{}) // the last third waits for the restart: mid-stream
		prodDone := make(chan error, 1)
		go func() {
			for i := range total {
				if i == 2*total/3 {
					<-stopped
				}
				body := fmt.Sprintf("m-%03d", i)
				if err := producer.Send(ctx, "topic://it.orders", []byte(body), client.Persistent()); err != nil {
					prodDone <- err
					return
				}
				mu.Lock()
				confirmed[body] = true
				mu.Unlock()
			}
			prodDone <- nil
		}()
		consDone := make(chan error, 1)
		go func() {
			for {
				m, err := sub.Next(ctx)
				if err != nil {
					consDone <- err
					return
				}
				mu.Lock()
				received[string(m.Body())]++
				n := len(received)
				mu.Unlock()
				if err := m.Ack(ctx); err != nil {
					consDone <- err
					return
				}
				if n == total {
					consDone <- nil
					return
				}
			}
		}()
		testutil.Eventually(t, 60*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(confirmed) >= 50 && len(received) >= 20
		}, "stream did not get going")
		b.stop()
		close(stopped)
		b.start()
		if err := <-prodDone; err != nil {
			t.Fatal(err)
		}
		if err := <-consDone; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		duplicates := 0
		for body := range confirmed {
			if received[body] == 0 {
				t.Errorf("%s confirmed but never received", body)
			}
			duplicates += max(0, received[body]-1)
		}
		t.Logf("ActiveMQ restart: %d confirmed, all received, %d duplicates", len(confirmed), duplicates)
	})
}
