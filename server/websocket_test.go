package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tethermq/tether/internal/testutil"

	"github.com/coder/websocket"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/store"
)

const wsWait = 10 * time.Second

// startWS runs a broker with a plain STOMP connector and the given
// WebSocket connectors (name -> scheme), all on port 0.
func startWS(t *testing.T, schemes map[string]string) (*Server, map[string]string) {
	t.Helper()
	cfg := Config{BrokerName: "ws", DataDirectory: t.TempDir(),
		TransportConnectors: []Connector{{Name: "stomp", URI: "stomp://127.0.0.1:0"}}}
	for name, scheme := range schemes {
		cfg.TransportConnectors = append(cfg.TransportConnectors, Connector{Name: name, URI: scheme + "://127.0.0.1:0"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	addrs := map[string]string{"stomp": s.Addr("stomp")}
	for name := range schemes {
		addrs[name] = s.Addr(name)
	}
	return s, addrs
}

func wsDial(t *testing.T, url string, subprotocols ...string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wsWait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: subprotocols})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// readFrames reads WebSocket messages until want STOMP frames arrived,
// however the server split or joined them, and returns them.
func readFrames(t *testing.T, c *websocket.Conn, want int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wsWait)
	defer cancel()
	var buf strings.Builder
	for strings.Count(buf.String(), "\x00") < want {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("reading frames (have %q): %v", buf.String(), err)
		}
		buf.Write(b)
	}
	frames := strings.Split(buf.String(), "\x00")
	return frames[:want]
}

func wsWrite(t *testing.T, c *websocket.Conn, parts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wsWait)
	defer cancel()
	for _, p := range parts {
		if err := c.Write(ctx, websocket.MessageText, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStompOverWebSocket: a STOMP client on ws:// whose frames span and
// share WebSocket messages reaches a plain STOMP consumer, and the other
// way round.
func TestStompOverWebSocket(t *testing.T) {
	_, addrs := startWS(t, map[string]string{"ws": "ws"})
	plain, err := gostomp.Dial("tcp", addrs["stomp"])
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Disconnect()
	sub, err := plain.Subscribe("/queue/from-ws", gostomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}

	c := wsDial(t, "ws://"+addrs["ws"]+"/", "v10.stomp", "v11.stomp", "v12.stomp")
	if c.Subprotocol() != "v12.stomp" {
		t.Fatalf("subprotocol %q, want v12.stomp", c.Subprotocol())
	}
	// CONNECT split over two messages.
	wsWrite(t, c, "CONNECT\naccept-version:1.2\nhost:lo", "calhost\n\n\x00")
	if f := readFrames(t, c, 1)[0]; !strings.HasPrefix(f, "CONNECTED\n") || !strings.Contains(f, "version:1.2") {
		t.Fatalf("got %q, want CONNECTED 1.2", f)
	}
	// Two SENDs in one message, the second's body split from its headers.
	wsWrite(t, c, "SEND\ndestination:/queue/from-ws\ncolor:red\n\none\x00SEND\ndestination:/queue/from-ws\n\n", "two\x00")
	for _, want := range []string{"one", "two"} {
		select {
		case m := <-sub.C:
			if m.Err != nil {
				t.Fatal(m.Err)
			}
			if string(m.Body) != want {
				t.Fatalf("plain consumer got %q, want %q", m.Body, want)
			}
			if want == "one" && m.Header.Get("color") != "red" {
				t.Fatalf("header color=%q lost", m.Header.Get("color"))
			}
		case <-time.After(wsWait):
			t.Fatalf("plain consumer got no %q", want)
		}
	}

	wsWrite(t, c, "SUBSCRIBE\nid:0\ndestination:/queue/to-ws\nreceipt:r1\n\n\x00")
	if f := readFrames(t, c, 1)[0]; !strings.HasPrefix(f, "RECEIPT\n") {
		t.Fatalf("got %q, want RECEIPT", f)
	}
	if err := plain.Send("/queue/to-ws", "text/plain", []byte("hello browser"), gostomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	f := readFrames(t, c, 1)[0]
	if !strings.HasPrefix(f, "MESSAGE\n") || !strings.HasSuffix(f, "\n\nhello browser") {
		t.Fatalf("got %q, want the MESSAGE", f)
	}
}

// TestMQTTOverWebSocket: paho over ws://, on the shared ws:// port (path
// /mqtt) and on an MQTT-only mqtt+ws:// port (path /), talking to each
// other and to a plain STOMP consumer.
func TestMQTTOverWebSocket(t *testing.T) {
	_, addrs := startWS(t, map[string]string{"ws": "ws", "mqttws": "mqtt+ws"})
	plain, err := gostomp.Dial("tcp", addrs["stomp"])
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Disconnect()
	stompSub, err := plain.Subscribe("/topic/ws.t", gostomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}

	got := make(chan paho.Message, 10)
	client := func(url, id string) paho.Client {
		o := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetAutoReconnect(false).
			SetConnectTimeout(wsWait).SetKeepAlive(30 * time.Second).SetProtocolVersion(4)
		c := paho.NewClient(o)
		waitPaho(t, c.Connect())
		t.Cleanup(func() { c.Disconnect(100) })
		return c
	}
	subscriber := client("ws://"+addrs["ws"]+"/mqtt", "ws-sub")
	waitPaho(t, subscriber.Subscribe("ws/t", 1, func(_ paho.Client, m paho.Message) { got <- m }))
	publisher := client("ws://"+addrs["mqttws"]+"/", "ws-pub")
	// A payload larger than one WebSocket write of paho's, so packets
	// span messages.
	big := strings.Repeat("x", 200<<10)
	for _, body := range []string{"small", big} {
		waitPaho(t, publisher.Publish("ws/t", 1, false, body))
		select {
		case m := <-got:
			if string(m.Payload()) != body || m.Topic() != "ws/t" || m.Qos() != 1 {
				t.Fatalf("got %s (%d bytes) QoS %d", m.Topic(), len(m.Payload()), m.Qos())
			}
		case <-time.After(wsWait):
			t.Fatal("the MQTT/WS subscriber got nothing")
		}
		select {
		case m := <-stompSub.C:
			if m.Err != nil || string(m.Body) != body {
				t.Fatalf("STOMP consumer got %v (%d bytes)", m.Err, len(m.Body))
			}
		case <-time.After(wsWait):
			t.Fatal("the plain STOMP consumer got nothing")
		}
	}
}

func waitPaho(t *testing.T, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(wsWait) {
		t.Fatal("paho token timed out")
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("paho: %v", err)
	}
}

// TestWebSocketRefusals: a plain HTTP request gets 426, an unknown
// subprotocol 400; an MQTT-only port refuses STOMP subprotocols.
func TestWebSocketRefusals(t *testing.T) {
	_, addrs := startWS(t, map[string]string{"ws": "ws", "mqttws": "mqtt+ws"})
	hc := &http.Client{Timeout: wsWait}
	resp, err := hc.Get("http://" + addrs["ws"] + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || !strings.Contains(string(body), "v12.stomp") {
		t.Fatalf("plain GET: HTTP %d %q", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		addr  string
		offer []string
	}{{addrs["ws"], []string{"xmpp"}}, {addrs["mqttws"], []string{"v12.stomp"}}} {
		ctx, cancel := context.WithTimeout(context.Background(), wsWait)
		_, resp, err := websocket.Dial(ctx, "ws://"+tc.addr+"/", &websocket.DialOptions{Subprotocols: tc.offer})
		cancel()
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("offer %v: %v, %v; want HTTP 400", tc.offer, err, resp)
		}
	}
	// The connector still serves after refusals.
	c := wsDial(t, "ws://"+addrs["ws"]+"/", "v11.stomp")
	wsWrite(t, c, "CONNECT\naccept-version:1.1\nhost:x\n\n\x00")
	if f := readFrames(t, c, 1)[0]; !strings.HasPrefix(f, "CONNECTED\n") {
		t.Fatalf("got %q", f)
	}
}

func TestWSSNeedsTLSSettings(t *testing.T) {
	cfg := Config{BrokerName: "wss", DataDirectory: t.TempDir(),
		TransportConnectors: []Connector{{Name: "wss", URI: "wss://127.0.0.1:0"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg, quiet())
	if err == nil {
		s.Close()
		t.Fatal("wss:// started without TLS settings")
	}
	if !strings.Contains(err.Error(), "wss:// needs an sslContext") {
		t.Fatalf("error %q does not say what is missing", err)
	}
}

func TestWebSocketSchemesAndOptions(t *testing.T) {
	for _, uri := range []string{"ws://h:61614", "wss://h:61614", "stomp+ws://h:1", "stomp+wss://h:1", "mqtt+ws://h:1", "mqtt+wss://h:1",
		"ws://h:1?maximumConnections=10&transport.defaultKeepAlive=60000"} {
		if _, _, _, err := parseConnectorURI(uri); err != nil {
			t.Errorf("%s: %v", uri, err)
		}
	}
	if _, _, err := splitWebSocketOptions(map[string][]string{"bogus": {"1"}}, true, true); err == nil {
		t.Error("unknown option accepted")
	}
	sq, mq, err := splitWebSocketOptions(map[string][]string{"maximumConnections": {"5"}, "transport.defaultKeepAlive": {"1000"}}, true, true)
	if err != nil || sq.Get("maximumConnections") != "5" || mq.Get("maximumConnections") != "5" || sq.Has("transport.defaultKeepAlive") || mq.Get("transport.defaultKeepAlive") != "1000" {
		t.Errorf("split: %v %v %v", sq, mq, err)
	}
	if _, _, err := splitWebSocketOptions(map[string][]string{"transport.defaultKeepAlive": {"1000"}}, true, false); err == nil {
		t.Error("an MQTT option accepted on a STOMP-only connector")
	}
	var ws bool
	for _, tc := range Default().TransportConnectors {
		ws = ws || tc.URI == "ws://0.0.0.0:61614"
	}
	if !ws {
		t.Error("the default config has no STOMP/WebSocket connector on 61614")
	}
}

// TestWSSConnector serves wss:// with a certificate made for the test and
// connects paho (MQTT) and a raw STOMP client to it.
func TestWSSConnector(t *testing.T) {
	tlsCfg, roots := testutil.SelfSigned(t)
	st, err := store.OpenJournal(t.TempDir(), store.JournalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err := broker.New(broker.Config{Logger: quiet()}, st)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := newWebSocketConnector(b, "wss", nil, nil, nil, tlsCfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Serve(ln) }()
	defer func() {
		c.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	addr := ln.Addr().String()

	o := paho.NewClientOptions().AddBroker("wss://" + addr + "/mqtt").SetClientID("wss-mqtt").SetAutoReconnect(false).
		SetConnectTimeout(wsWait).SetTLSConfig(&tls.Config{RootCAs: roots})
	mc := paho.NewClient(o)
	waitPaho(t, mc.Connect())
	got := make(chan string, 1)
	waitPaho(t, mc.Subscribe("secure/t", 0, func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }))

	ctx, cancel := context.WithTimeout(context.Background(), wsWait)
	defer cancel()
	hc := &http.Client{Timeout: wsWait, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	sc, _, err := websocket.Dial(ctx, "wss://"+addr+"/", &websocket.DialOptions{Subprotocols: []string{"v12.stomp"}, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.CloseNow()
	wsWrite(t, sc, "CONNECT\naccept-version:1.2\nhost:x\n\n\x00")
	readFrames(t, sc, 1)
	wsWrite(t, sc, "SEND\ndestination:/topic/secure.t\n\nover tls\x00")
	select {
	case m := <-got:
		if m != "over tls" {
			t.Fatalf("got %q", m)
		}
	case <-time.After(wsWait):
		t.Fatal("nothing crossed from STOMP/WSS to MQTT/WSS")
	}
	mc.Disconnect(100)
}

// TestWebSocketConnectionEnds: the connectors' own ways of ending a
// connection work over WebSocket: MQTT keep-alive expiry (a read
// deadline) and a STOMP protocol error (ERROR, then close).
func TestWebSocketConnectionEnds(t *testing.T) {
	_, addrs := startWS(t, map[string]string{"ws": "ws"})
	ctx, cancel := context.WithTimeout(context.Background(), wsWait)
	defer cancel()

	mc := wsDial(t, "ws://"+addrs["ws"]+"/mqtt", "mqtt")
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion, cp.ClientIdentifier, cp.CleanSession, cp.Keepalive = "MQTT", 4, "silent", true, 1
	var buf bytes.Buffer
	if err := cp.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := mc.Write(ctx, websocket.MessageBinary, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	typ, b, err := mc.Read(ctx)
	if err != nil || typ != websocket.MessageBinary || len(b) != 4 || b[0] != 0x20 || b[3] != 0 {
		t.Fatalf("CONNACK: %v % x %v", typ, b, err)
	}
	start := time.Now()
	if _, _, err := mc.Read(ctx); err == nil {
		t.Fatal("a silent MQTT client was not disconnected")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("keep-alive 1 s enforced after %v", d)
	}

	sc := wsDial(t, "ws://"+addrs["ws"]+"/", "v12.stomp")
	wsWrite(t, sc, "CONNECT\naccept-version:1.2\nhost:x\n\n\x00")
	readFrames(t, sc, 1)
	wsWrite(t, sc, "BOGUS\n\n\x00")
	if f := readFrames(t, sc, 1)[0]; !strings.HasPrefix(f, "ERROR\n") {
		t.Fatalf("got %q, want ERROR", f)
	}
	if _, _, err := sc.Read(ctx); err == nil {
		t.Fatal("connection still open after ERROR")
	}
}
