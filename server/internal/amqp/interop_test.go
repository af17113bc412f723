//go:build interop

package amqp

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// These tests drive the connector with Qpid Proton's Python binding
// (Debian python3-qpid-proton, which loads only under /usr/bin/python3).

// proton runs a Proton script with args and returns its output.
func proton(t *testing.T, script string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", append([]string{"-c", script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("qpid-proton: %v\n%s", err, out)
	}
	return string(out)
}

// The probe: four sends, then close at once, without waiting for
// their outcomes; 50 rounds must store 200 messages.
const protonProbe = `
import sys
from proton import Message
from proton.handlers import MessagingHandler
from proton.reactor import Container
url, addr, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
class Probe(MessagingHandler):
    def __init__(self, r):
        super().__init__()
        self.r, self.sent = r, False
    def on_start(self, event):
        event.container.create_sender(event.container.connect(url), addr)
    def on_sendable(self, event):
        if self.sent or event.sender.credit < 4:
            return
        for i in range(4):
            event.sender.send(Message(body="%d-%d" % (self.r, i)))
        self.sent = True
        event.connection.close()
for r in range(rounds):
    Container(Probe(r)).run()
print("DONE", flush=True)
`

func TestProtonSendThenCloseLosesNothing(t *testing.T) {
	e := startEnv(t, Options{}, "")
	proton(t, protonProbe, e.url(), "queue://proton-probe", "50")
	if got := e.stats("proton-probe").Enqueued; got != 200 {
		t.Fatalf("enqueued %d of 200", got)
	}
}

// Typed application properties, message annotations and the absence of a
// properties section come back as they were sent.
const protonTyped = `
import sys, uuid
from proton import Message, int32, symbol
from proton.utils import BlockingConnection
conn = BlockingConnection(sys.argv[1], timeout=10)
props = {"int": int32(7), "bool": True, "long": 1 << 40, "double": 1.5, "string": "text",
         "null": None, "uuid": uuid.UUID("12345678-9abc-def0-0123-456789abcdef"), "binary": b"\xca\xfe"}
conn.create_sender("queue://proton-typed").send(
    Message(body="typed", properties=props, annotations={symbol("x-opt-kept"): "yes"}))
rcv = conn.create_receiver("queue://proton-typed")
m = rcv.receive(timeout=10)
rcv.accept()
problems = []
if m.properties != props:
    problems.append("properties %r" % (m.properties,))
for k, v in props.items():
    if type(m.properties.get(k)) is not type(v):
        problems.append("%s has type %s, want %s" % (k, type(m.properties.get(k)), type(v)))
if m.annotations.get(symbol("x-opt-kept")) != "yes":
    problems.append("annotations %r" % (m.annotations,))
if m.id is not None or m.address is not None or m.creation_time:
    problems.append("properties section added: id=%r to=%r creation-time=%r" % (m.id, m.address, m.creation_time))
if m.body != "typed":
    problems.append("body %r" % (m.body,))
print("PROBLEMS" if problems else "OK", problems, flush=True)
conn.close()
`

func TestProtonTypedMessageUnchanged(t *testing.T) {
	e := startEnv(t, Options{}, "")
	if out := proton(t, protonTyped, e.url()); !strings.HasPrefix(out, "OK") {
		t.Fatal(out)
	}
}

// A dynamic receiver is a temporary queue: a request names it in
// reply-to, the answer arrives, and the queue is gone with the connection.
const protonTemp = `
import sys
from proton import Message
from proton.utils import BlockingConnection
conn = BlockingConnection(sys.argv[1], timeout=10)
replies = conn.create_receiver(None, dynamic=True)
addr = replies.link.remote_source.address
conn.create_sender("queue://proton-requests").send(Message(body="ping", reply_to=addr))
rcv = conn.create_receiver("queue://proton-requests")
req = rcv.receive(timeout=10)
rcv.accept()
conn.create_sender(req.reply_to).send(Message(body="pong"))
rep = replies.receive(timeout=10)
replies.accept()
print("REPLY", addr, rep.body, flush=True)
conn.close()
`

func TestProtonTemporaryQueue(t *testing.T) {
	e := startEnv(t, Options{}, "")
	out := proton(t, protonTemp, e.url())
	if !strings.HasPrefix(out, "REPLY queue://TempQueue.") || !strings.Contains(out, " pong") {
		t.Fatal(out)
	}
	if q := e.tempQueues(); len(q) != 0 {
		t.Fatalf("temporary queues left after the connection closed: %v", q)
	}
}

// Local transactions: a committed send of two, a rolled-back send; then
// two messages received and accepted in a transaction that is rolled back
// (they come back, redelivered) and again in one that commits.
const protonTx = `
import sys
from proton import Message
from proton.handlers import TransactionalClientHandler
from proton.reactor import Container
url, addr = sys.argv[1], sys.argv[2]
class Tx(TransactionalClientHandler):
    def __init__(self):
        super().__init__(prefetch=0)
        self.step, self.txn, self.waiting, self.accepted, self.got = 0, None, [], 0, []
    def on_start(self, event):
        self.conn = event.container.connect(url)
        self.snd = event.container.create_sender(self.conn, addr)
    def on_sendable(self, event):
        if self.step == 0 and event.sender == self.snd:
            self.step = 1
            event.container.declare_transaction(self.conn, handler=self)
    def on_transaction_declared(self, event):
        self.txn = event.transaction
        if self.step == 1:
            self.txn.send(self.snd, Message(body="c1"))
            self.txn.send(self.snd, Message(body="c2"))
            self.txn.commit()
        elif self.step == 2:
            self.txn.send(self.snd, Message(body="a1"))
            self.txn.abort()
        elif self.step == 3:
            self.rcv = event.container.create_receiver(self.conn, addr)
            self.rcv.flow(10)
        self.take()
    def on_message(self, event):
        self.got.append("%s:%d" % (event.message.body, event.message.delivery_count))
        self.waiting.append(event.delivery)
        self.take()
    def take(self):
        if self.step < 3 or self.txn is None:
            return
        while self.waiting:
            self.txn.accept(self.waiting.pop(0))
            self.accepted += 1
        if self.accepted == 2:
            self.accepted = 0
            if self.step == 3:
                self.txn.abort()
            else:
                self.txn.commit()
            self.txn = None
    def on_transaction_committed(self, event):
        if self.step == 1:
            self.step = 2
            event.container.declare_transaction(self.conn, handler=self)
        else:
            print("RECEIVED", ",".join(self.got), flush=True)
            self.conn.close()
    def on_transaction_aborted(self, event):
        self.step = 3 if self.step == 2 else 4
        event.container.declare_transaction(self.conn, handler=self)
Container(Tx()).run()
`

func TestProtonTransactions(t *testing.T) {
	e := startEnv(t, Options{}, "")
	out := proton(t, protonTx, e.url(), "queue://proton-tx")
	if !strings.Contains(out, "RECEIVED c1:0,c2:0,c1:1,c2:1") {
		t.Fatal(out)
	}
	if st := e.stats("proton-tx"); st.Enqueued != 2 || st.Dequeued != 2 || st.Pending+st.InFlight != 0 {
		t.Fatalf("queue after the transactions: %+v", st)
	}
}

// A receiver with distribution-mode copy browses: what it saw is still
// there for a consumer.
const protonBrowse = `
import sys
from proton import Message
from proton.reactor import Copy
from proton.utils import BlockingConnection
conn = BlockingConnection(sys.argv[1], timeout=10)
snd = conn.create_sender("queue://proton-browse")
for i in range(3):
    snd.send(Message(body="b%d" % i))
br = conn.create_receiver("queue://proton-browse", credit=10, options=Copy())
browsed = [br.receive(timeout=10).body for _ in range(3)]
br.accept()
br.close()
rcv = conn.create_receiver("queue://proton-browse", credit=10)
consumed = []
for _ in range(3):
    consumed.append(rcv.receive(timeout=10).body)
    rcv.accept()
print("BROWSED", ",".join(browsed), "CONSUMED", ",".join(consumed), flush=True)
conn.close()
`

func TestProtonBrowser(t *testing.T) {
	e := startEnv(t, Options{}, "")
	if out := proton(t, protonBrowse, e.url()); !strings.Contains(out, "BROWSED b0,b1,b2 CONSUMED b0,b1,b2") {
		t.Fatal(out)
	}
}
