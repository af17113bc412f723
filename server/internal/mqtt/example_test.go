package mqtt_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/mqtt"
	"github.com/tethermq/tether/server/internal/store"
)

// Serve MQTT for a broker and exchange one message with a paho client.
func Example() {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir, err := os.MkdirTemp("", "mqtt-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	st, err := store.OpenJournal(dir, store.JournalOptions{Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	b, err := broker.New(broker.Config{Logger: quiet}, st)
	if err != nil {
		panic(err)
	}
	defer b.Close()

	srv := mqtt.New(b, mqtt.Options{Logger: quiet})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	client := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + ln.Addr().String()).
		SetClientID("example").SetConnectTimeout(5 * time.Second))
	if tok := client.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		panic(fmt.Sprint("connect: ", tok.Error()))
	}
	defer client.Disconnect(250)

	got := make(chan paho.Message, 1)
	client.Subscribe("sensors/+/temperature", 1, func(_ paho.Client, m paho.Message) { got <- m }).WaitTimeout(5 * time.Second)
	client.Publish("sensors/kitchen/temperature", 1, false, "21.5").WaitTimeout(5 * time.Second)
	select {
	case m := <-got:
		fmt.Printf("%s %s (QoS %d)\n", m.Topic(), m.Payload(), m.Qos())
	case <-time.After(5 * time.Second):
		fmt.Println("no message")
	}
	// Output: sensors/kitchen/temperature 21.5 (QoS 1)
}

// Options come from the transport connector URI's query, with ActiveMQ's
// names.
func ExampleParseOptions() {
	u, _ := url.Parse("mqtt://0.0.0.0:1883?transport.defaultKeepAlive=60000&wireFormat.maxFrameSize=1048576")
	o, err := mqtt.ParseOptions(u.Query())
	fmt.Println(o.DefaultKeepAlive, o.MaxFrameSize, err)

	_, err = mqtt.ParseOptions(url.Values{"transport.typo": {"1"}})
	fmt.Println(err)
	// Output:
	// 1m0s 1048576 <nil>
	// unknown MQTT connector option "transport.typo"
}
