package server

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/internal/testutil"
	"github.com/tethermq/tether/server/auth"
	"github.com/tethermq/tether/server/internal/broker"
)

// The fuzz-style test: 10,000 random STOMP frames (CONNECT with random
// credentials, SUBSCRIBE and SEND to random destinations, each pipelined
// without waiting for the answer to the one before, so frames sent after a
// refused CONNECT reach the broker too) against a broker with ACLs. It then
// checks, against an oracle written from the ACL table independently of
// server/auth, that nothing unauthorized was ever delivered (every MESSAGE
// any client received) or stored (every message left in any queue).

type fuzzCred struct {
	user, pass string
	valid      bool
}

var fuzzCreds = []fuzzCred{
	{"alice", "alicepw", true}, {"alice", "wrong", false},
	{"bob", "bobpw", true}, {"bob", "", false},
	{"carol", "carolpw", true},
	{"root", "rootpw", true}, {"root", "alicepw", false},
	{"eve", "evepw", true}, {"mallory", "x", false}, {"", "", false},
	{"auditor", "auditorpw", true},
}

func fuzzGroups() map[string][]string {
	return map[string][]string{
		"alice": {"producers"}, "bob": {"consumers"}, "carol": {"producers", "consumers"},
		"root": {"admins"}, "eve": nil, "auditor": {"auditors"},
	}
}

func fuzzConfig(t *testing.T) Config {
	cfg := Config{
		BrokerName: "fuzz", DataDirectory: t.TempDir(),
		TransportConnectors: []Connector{{Name: "stomp", URI: "stomp://127.0.0.1:0"}, {Name: "mqtt", URI: "mqtt://127.0.0.1:0"}},
		AuthorizationEntries: []AuthorizationEntry{
			{Queue: "orders.>", Read: auth.Groups{"consumers"}, Write: auth.Groups{"producers", "admins"}, Admin: auth.Groups{"admins"}},
			{Topic: "orders.>", Read: auth.Groups{"consumers"}, Write: auth.Groups{"producers", "admins"}, Admin: auth.Groups{"admins"}},
			{Queue: "open.>", Read: auth.Groups{"everyone"}, Write: auth.Groups{"everyone"}, Admin: auth.Groups{"everyone"}},
			{Topic: "open.>", Read: auth.Groups{"everyone"}, Write: auth.Groups{"everyone"}, Admin: auth.Groups{"everyone"}},
			{Queue: ">", Read: auth.Groups{"auditors"}},
			{Topic: ">", Read: auth.Groups{"auditors"}},
			{Topic: "ActiveMQ.Advisory.>", Read: auth.Groups{"everyone"}},
		},
		authFailureDelay: 10 * time.Millisecond,
	}
	for u, gs := range fuzzGroups() {
		cfg.Users = append(cfg.Users, User{Username: u, Password: u + "pw", Groups: gs})
	}
	return cfg
}

// fuzzAllowed is the oracle: may user read or write dest (STOMP form)? It
// is an upper bound (creation rights are checked separately), written from
// the entries above by hand.
func fuzzAllowed(user string, write bool, dest string) bool {
	kind, name, _ := strings.Cut(strings.TrimPrefix(dest, "/"), "/")
	if kind != "queue" && kind != "topic" {
		return false
	}
	in := func(g string) bool {
		for _, x := range fuzzGroups()[user] {
			if x == g {
				return true
			}
		}
		return false
	}
	if _, known := fuzzGroups()[user]; !known {
		return false
	}
	// '>' matches zero or more elements: orders.> covers orders itself.
	switch {
	case name == "open" || strings.HasPrefix(name, "open."):
		return true
	case name == "orders" || strings.HasPrefix(name, "orders."):
		if write {
			return in("producers") || in("admins")
		}
		return in("consumers") || in("auditors")
	case kind == "topic" && strings.HasPrefix(name, "ActiveMQ.Advisory."):
		return !write
	}
	return !write && in("auditors")
}

var (
	fuzzSendDests = []string{
		"/queue/orders.eu", "/queue/orders.us", "/queue/orders.fresh.1", "/queue/orders.fresh.2", "/queue/orders.fresh.3",
		"/queue/open.a", "/queue/open.b", "/queue/billing.x", "/queue/orders",
		"/topic/orders.eu", "/topic/open.t", "/topic/billing.t", "/topic/ActiveMQ.Advisory.Consumer.Queue.orders.eu",
	}
	fuzzSubDests = append([]string{
		"/topic/orders.*", "/topic/orders.>", "/topic/open.>", "/topic/>", "/topic/billing.*", "/topic/ActiveMQ.Advisory.>",
	}, fuzzSendDests...)
)

// fuzzLog is what the clients saw.
type fuzzLog struct {
	mu           sync.Mutex
	receipts     map[string]time.Time // message id -> when its RECEIPT arrived
	firstByAdmin map[string]time.Time // fresh queue -> when root first wrote a frame for it
	violations   []string
	delivered    int
	refused      int
	loginRefused int
	sent         atomic.Int64
}

func (l *fuzzLog) violate(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.violations) < 20 {
		l.violations = append(l.violations, fmt.Sprintf(format, args...))
	}
}

// checkMessage checks one delivered or stored message: its sender logged
// in, may write where it went, and (on a fresh queue, which only admins may
// create) was confirmed only after an admin tried to create the queue.
func (l *fuzzLog) checkMessage(where, dest, body string) {
	parts := strings.Split(body, "|")
	if len(parts) != 3 && strings.HasPrefix(dest, "/topic/ActiveMQ.Advisory.") {
		return // the broker's own advisory
	}
	if len(parts) != 3 {
		l.violate("%s: foreign message %q on %s", where, body, dest)
		return
	}
	sender, valid, id := parts[0], parts[1] == "valid", parts[2]
	if !valid {
		l.violate("%s: message %s from a refused login (%q) on %s", where, id, sender, dest)
	}
	if !fuzzAllowed(sender, true, dest) {
		l.violate("%s: message %s from %q, who may not write %s", where, id, sender, dest)
	}
	if strings.HasPrefix(dest, "/queue/orders.fresh.") && sender != "root" {
		l.mu.Lock()
		created, tried := l.firstByAdmin[dest]
		confirmed, ok := l.receipts[id]
		l.mu.Unlock()
		if !tried || (ok && confirmed.Before(created)) {
			l.violate("%s: %q's message %s on %s confirmed before any admin created it", where, sender, id, dest)
		}
	}
}

func TestSecurityFuzz(t *testing.T) {
	const frames = 10000
	s := startConfig(t, fuzzConfig(t), nil)
	addr := s.Addr("stomp")
	log := &fuzzLog{receipts: map[string]time.Time{}, firstByAdmin: map[string]time.Time{}}
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 14))
			for log.sent.Load() < frames {
				if rng.IntN(8) == 0 { // an MQTT connection now and then
					fuzzMQTTConnection(t, s.Addr("mqtt"), rng, log, &next)
				} else {
					fuzzConnection(t, addr, rng, log, &next)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	// Everything left in a queue was stored: read it with the broker's own
	// rights (no ACL) and check it too. Consumers are gone, so everything
	// not acknowledged is pending again.
	b := s.Broker()
	sess, err := b.NewSession(broker.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	stored := 0
	for _, qs := range b.Stats() {
		if qs.Subscription != "" || strings.HasPrefix(qs.Destination, "queue://ActiveMQ.MQTT.") {
			continue // the MQTT connector's tables: retained messages are checked below
		}
		testutil.Eventually(t, 10*time.Second, func() bool {
			for _, x := range b.Stats() {
				if x.Destination == qs.Destination && x.Subscription == "" {
					return x.InFlight == 0
				}
			}
			return true
		}, "%s: messages still in flight after every client left", qs.Destination)
		d, err := broker.ParseDestination(qs.Destination)
		if err != nil {
			t.Fatal(err)
		}
		if d.Kind != broker.Queue {
			continue
		}
		got := make(chan *broker.Message, qs.Pending+1)
		c, err := sess.Subscribe(broker.ConsumerOptions{Dest: d, AckMode: broker.AckIndividual, Prefetch: qs.Pending + 1},
			func(dl *broker.Delivery) { got <- dl.Message })
		if err != nil {
			t.Fatal(err)
		}
		for range qs.Pending {
			select {
			case m := <-got:
				log.checkMessage("stored", "/queue/"+d.Name, string(m.Body)) // the STOMP spelling the log uses
				stored++
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: fewer messages than its %d pending", d, qs.Pending)
			}
		}
		c.Close()
	}
	// Retained messages are stored too: an auditor (who may read
	// everything) subscribes to every topic and checks what it gets.
	retained := fuzzRetained(t, s.Addr("mqtt"), log)
	t.Logf("%d retained messages", retained)
	t.Logf("%d frames in %v over 12 connections at a time: %d deliveries, %d operations refused, %d logins refused, %d messages stored",
		log.sent.Load(), elapsed.Round(time.Millisecond), log.delivered, log.refused, log.loginRefused, stored)
	for _, v := range log.violations {
		t.Error(v)
	}
	if log.delivered == 0 || log.refused == 0 || log.loginRefused == 0 || stored == 0 {
		t.Fatal("the fuzz did not exercise deliveries, refusals, refused logins and storage")
	}
}

// fuzzConnection runs one connection: CONNECT with random credentials, up
// to ten random SENDs and SUBSCRIBEs written at once, DISCONNECT, and reads
// everything the broker answers until it closes.
func fuzzConnection(t *testing.T, addr string, rng *rand.Rand, log *fuzzLog, next *atomic.Int64) {
	cred := fuzzCreds[rng.IntN(len(fuzzCreds))]
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Error(err)
		return
	}
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	valid := "refused"
	if cred.valid {
		valid = "valid"
	}
	subs := map[string]string{} // id -> destination
	var subsMu sync.Mutex
	pendingIDs := map[string]string{} // receipt -> message id
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := frame.NewReader(nc)
		for {
			f, err := r.Read()
			if err != nil {
				return
			}
			if f == nil {
				continue
			}
			switch f.Command {
			case frame.CONNECTED:
				if !cred.valid {
					log.violate("login %q/%q accepted", cred.user, cred.pass)
				}
			case frame.MESSAGE:
				subsMu.Lock()
				subDest := subs[f.Header.Get(frame.Subscription)]
				subsMu.Unlock()
				if !cred.valid || !fuzzAllowed(cred.user, false, subDest) {
					log.violate("%q (%s login) received on %q, which it may not read", cred.user, valid, subDest)
				}
				log.checkMessage("delivered to "+cred.user, f.Header.Get(frame.Destination), string(f.Body))
				log.mu.Lock()
				log.delivered++
				log.mu.Unlock()
			case frame.RECEIPT:
				subsMu.Lock()
				id := pendingIDs[f.Header.Get(frame.ReceiptId)]
				subsMu.Unlock()
				if id != "" {
					log.mu.Lock()
					log.receipts[id] = time.Now()
					log.mu.Unlock()
				}
			case frame.ERROR:
				msg := f.Header.Get(frame.Message)
				log.mu.Lock()
				switch {
				case strings.Contains(msg, "not authorized"):
					log.refused++
				case strings.Contains(msg, "authentication failed"):
					log.loginRefused++
				}
				log.mu.Unlock()
			}
		}
	}()
	defer func() {
		nc.Close()
		<-done // the reader stops with the connection
	}()
	w := frame.NewWriter(nc)
	write := func(f *frame.Frame) bool {
		log.sent.Add(1)
		return w.Write(f) == nil
	}
	if !write(frame.New(frame.CONNECT, frame.AcceptVersion, "1.2", frame.Host, "fuzz", frame.Login, cred.user, frame.Passcode, cred.pass)) {
		return
	}
	for i := range rng.IntN(11) {
		receipt := "r" + strconv.Itoa(i)
		var f *frame.Frame
		if rng.IntN(10) < 6 {
			dest := fuzzSendDests[rng.IntN(len(fuzzSendDests))]
			id := strconv.FormatInt(next.Add(1), 10)
			if cred.user == "root" && cred.valid && strings.HasPrefix(dest, "/queue/orders.fresh.") {
				log.mu.Lock()
				if _, ok := log.firstByAdmin[dest]; !ok {
					log.firstByAdmin[dest] = time.Now()
				}
				log.mu.Unlock()
			}
			subsMu.Lock()
			pendingIDs[receipt] = id
			subsMu.Unlock()
			f = frame.New(frame.SEND, frame.Destination, dest, frame.Receipt, receipt)
			f.Body = []byte(cred.user + "|" + valid + "|" + id)
		} else {
			dest := fuzzSubDests[rng.IntN(len(fuzzSubDests))]
			subID := "s" + strconv.Itoa(i)
			subsMu.Lock()
			subs[subID] = dest
			subsMu.Unlock()
			f = frame.New(frame.SUBSCRIBE, frame.Destination, dest, frame.Id, subID, frame.Receipt, receipt)
		}
		if !write(f) {
			break
		}
	}
	if write(frame.New(frame.DISCONNECT, frame.Receipt, "bye")) {
		<-done
	}
}
