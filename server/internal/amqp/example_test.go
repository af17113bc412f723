package amqp_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/url"
	"os"
	"time"

	goamqp "github.com/Azure/go-amqp"

	"github.com/tethermq/tether/server/internal/amqp"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/store"
)

// A broker with its AMQP connector, and a go-amqp client sending a message
// to a queue and receiving it back.
func Example() {
	quiet := slog.New(slog.DiscardHandler)
	dir, err := os.MkdirTemp("", "amqp-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := store.OpenJournal(dir, store.JournalOptions{Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	b, err := broker.New(broker.Config{Logger: quiet}, st)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	srv := amqp.New(b, amqp.Options{Logger: quiet})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := goamqp.Dial(ctx, "amqp://"+ln.Addr().String(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	session, err := conn.NewSession(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	sender, err := session.NewSender(ctx, "queue://greetings", nil)
	if err != nil {
		log.Fatal(err)
	}
	// Send returns once the broker accepted the message (durable: on disk).
	msg := goamqp.NewMessage([]byte("hello"))
	msg.Header = &goamqp.MessageHeader{Durable: true}
	if err := sender.Send(ctx, msg, nil); err != nil {
		log.Fatal(err)
	}
	receiver, err := session.NewReceiver(ctx, "queue://greetings", &goamqp.ReceiverOptions{Credit: 10})
	if err != nil {
		log.Fatal(err)
	}
	got, err := receiver.Receive(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := receiver.AcceptMessage(ctx, got); err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(got.GetData()))
	// Output: hello
}

// ParseOptions reads a transport connector URI's query.
func ExampleParseOptions() {
	u, err := url.Parse("amqp://0.0.0.0:5672?maximumConnections=100&wireFormat.maxFrameSize=65536&transport.wireFormat.idleTimeout=60000")
	if err != nil {
		log.Fatal(err)
	}
	o, err := amqp.ParseOptions(u.Query())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(o.MaxConnections, o.MaxFrameSize, o.IdleTimeout)
	_, err = amqp.ParseOptions(url.Values{"transport.bogus": {"1"}})
	fmt.Println(err)
	// Output:
	// 100 65536 1m0s
	// amqp option transport.bogus: unknown
}
