package mqtt

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/store"
)

// wait bounds every blocking step of a test.
const waitFor = 10 * time.Second

func testLogger() *slog.Logger {
	level := slog.LevelError
	if os.Getenv("MQTT_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// env is a broker with its store and an MQTT connector on 127.0.0.1. It can
// be restarted on the same store directory and port.
type env struct {
	t    testing.TB
	dir  string
	addr string
	opts Options
	// tweak adjusts each new Server before it serves (internal knobs).
	tweak func(*Server)

	st        *store.Journal
	b         *broker.Broker
	srv       *Server
	serveDone chan error
	running   bool
}

func newEnv(t testing.TB, opts Options) *env {
	t.Helper()
	return newEnvTweaked(t, opts, nil)
}

func newEnvTweaked(t testing.TB, opts Options, tweak func(*Server)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), addr: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), opts: opts, tweak: tweak}
	if e.opts.Logger == nil {
		e.opts.Logger = testLogger()
	}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func (e *env) start() {
	e.t.Helper()
	st, err := store.OpenJournal(e.dir, store.JournalOptions{})
	if err != nil {
		e.t.Fatalf("open store: %v", err)
	}
	b, err := broker.New(broker.Config{Logger: e.opts.Logger}, st)
	if err != nil {
		st.Close()
		e.t.Fatalf("broker: %v", err)
	}
	ln, err := net.Listen("tcp", e.addr)
	if err != nil {
		b.Close()
		st.Close()
		e.t.Fatalf("listen: %v", err)
	}
	e.st, e.b, e.srv = st, b, New(b, e.opts)
	if e.tweak != nil {
		e.tweak(e.srv)
	}
	e.serveDone = make(chan error, 1)
	srv := e.srv
	go func() { e.serveDone <- srv.Serve(ln) }()
	e.running = true
}

func (e *env) stop() {
	if !e.running {
		return
	}
	e.running = false
	e.srv.Close()
	select {
	case err := <-e.serveDone:
		if err != nil {
			e.t.Errorf("Serve returned %v after Close", err)
		}
	case <-time.After(waitFor):
		e.t.Errorf("Serve did not return after Close")
	}
	e.b.Close()
	e.st.Close()
}

func (e *env) restart() {
	e.t.Helper()
	e.stop()
	e.start()
}

// client connects a paho client; it is disconnected at the end of the test.
func (e *env) client(t testing.TB, id string, clean bool, mod func(*paho.ClientOptions)) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + e.addr).SetClientID(id).SetCleanSession(clean).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(waitFor).
		SetKeepAlive(30 * time.Second)
	if mod != nil {
		mod(o)
	}
	c := paho.NewClient(o)
	waitToken(t, c.Connect())
	t.Cleanup(func() {
		if c.IsConnected() {
			c.Disconnect(250)
		}
	})
	return c
}

func waitToken(t testing.TB, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(waitFor) {
		t.Fatalf("paho token timed out")
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("paho: %v", err)
	}
}

// inbox collects messages from paho handlers, which must not block.
type inbox chan paho.Message

func newInbox() inbox { return make(inbox, 10000) }

func (in inbox) handler(_ paho.Client, m paho.Message) { in <- m }

func (in inbox) next(t testing.TB) paho.Message {
	t.Helper()
	select {
	case m := <-in:
		return m
	case <-time.After(waitFor):
		t.Fatalf("no message within %v", waitFor)
		return nil
	}
}

// brokerSub subscribes inside the broker, as a STOMP or AMQP connector would.
func brokerSub(t testing.TB, b *broker.Broker, o broker.ConsumerOptions) chan *broker.Delivery {
	t.Helper()
	sess, err := b.NewSession(broker.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Close)
	ch := make(chan *broker.Delivery, 10000)
	if _, err := sess.Subscribe(o, func(d *broker.Delivery) { ch <- d }); err != nil {
		t.Fatal(err)
	}
	return ch
}

func nextDelivery(t testing.TB, ch chan *broker.Delivery) *broker.Delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(waitFor):
		t.Fatalf("no broker delivery within %v", waitFor)
		return nil
	}
}

// raw is a hand-driven MQTT client for what paho will not do: malformed
// input, retransmissions, silence.
type raw struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *raw {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &raw{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (r *raw) send(p packets.ControlPacket) {
	r.t.Helper()
	r.nc.SetWriteDeadline(time.Now().Add(waitFor))
	if err := p.Write(r.nc); err != nil {
		r.t.Fatalf("raw write %s: %v", p, err)
	}
}

func (r *raw) sendBytes(b []byte) {
	r.t.Helper()
	r.nc.SetWriteDeadline(time.Now().Add(waitFor))
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatalf("raw write: %v", err)
	}
}

func (r *raw) read() packets.ControlPacket {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(waitFor))
	p, err := packets.ReadPacket(r.br)
	if err != nil {
		r.t.Fatalf("raw read: %v", err)
	}
	return p
}

// expectClosed reads until the server closes the connection, failing on
// any packet or if it stays open past within.
func (r *raw) expectClosed(within time.Duration) {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(within))
	p, err := packets.ReadPacket(r.br)
	if err == nil {
		r.t.Fatalf("expected the connection closed, got %s", p)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatalf("connection still open after %v", within)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		r.t.Fatalf("expected EOF, got %v", err)
	}
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}

func connectPacket(id string, clean bool, keepAlive uint16) *packets.ConnectPacket {
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion = "MQTT", 4
	cp.ClientIdentifier, cp.CleanSession, cp.Keepalive = id, clean, keepAlive
	return cp
}

// connect sends CONNECT and returns CONNACK.
func (r *raw) connect(cp *packets.ConnectPacket) *packets.ConnackPacket {
	r.t.Helper()
	r.send(cp)
	p := r.read()
	ack, ok := p.(*packets.ConnackPacket)
	if !ok {
		r.t.Fatalf("got %s, want CONNACK", p)
	}
	return ack
}

func publishPacket(topic string, qos byte, id uint16, payload string) *packets.PublishPacket {
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.TopicName, p.Qos, p.MessageID, p.Payload = topic, qos, id, []byte(payload)
	return p
}

func subscribePacket(id uint16, filter string, qos byte) *packets.SubscribePacket {
	p := packets.NewControlPacket(packets.Subscribe).(*packets.SubscribePacket)
	p.MessageID, p.Topics, p.Qoss = id, []string{filter}, []byte{qos}
	return p
}

// expect reads one packet of type T with the given packet id.
func expect[T packets.ControlPacket](r *raw, id uint16) T {
	r.t.Helper()
	p := r.read()
	v, ok := p.(T)
	if !ok {
		var zero T
		r.t.Fatalf("got %s, want %T", p, zero)
	}
	if got := p.Details().MessageID; got != id {
		r.t.Fatalf("got %s with id %d, want id %d", p, got, id)
	}
	return v
}

// outstanding counts outbound QoS 1 and 2 messages awaiting the client on
// every connection.
func (e *env) outstanding() int {
	n := 0
	seen := map[*inflight]bool{}
	e.srv.set.Each(func(c *conn) {
		c.mu.Lock()
		f := c.flights
		c.mu.Unlock()
		if f != nil && !seen[f] {
			seen[f] = true
			n += f.size()
		}
	})
	return n
}

// brokerInFlight sums the broker's unacknowledged deliveries, leaving out
// the connector's internal tables (whose entries stay in flight for good).
func (e *env) brokerInFlight() int {
	n := 0
	for _, s := range e.b.Stats() {
		if !strings.HasPrefix(s.Destination, "queue://ActiveMQ.MQTT.") {
			n += s.InFlight
		}
	}
	return n
}

// subscriptionStats returns the broker's counters of one subscription name.
func (e *env) subscriptionStats(name string) (broker.QueueStats, bool) {
	for _, s := range e.b.Stats() {
		if s.Subscription == name {
			return s, true
		}
	}
	return broker.QueueStats{}, false
}

func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

// publish reads one PUBLISH, whatever its packet id.
func (r *raw) publish() *packets.PublishPacket {
	r.t.Helper()
	p := r.read()
	pub, ok := p.(*packets.PublishPacket)
	if !ok {
		r.t.Fatalf("got %s, want PUBLISH", p)
	}
	return pub
}

// retainedPayload is the retained table's entry for an MQTT topic.
func (e *env) retainedPayload(topic string) string {
	e.srv.mu.Lock()
	sh := e.srv.sh
	e.srv.mu.Unlock()
	if m, ok := sh.retained.get(topic); ok {
		return string(m.Body)
	}
	return ""
}
