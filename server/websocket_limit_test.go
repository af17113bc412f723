package server

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// TestWebSocketMaximumConnections: over WebSocket, as over TCP, each
// protocol refuses connections beyond maximumConnections in its own terms
// (STOMP an ERROR, MQTT CONNACK 3), the limit counting per protocol.
func TestWebSocketMaximumConnections(t *testing.T) {
	cfg := Config{BrokerName: "wslimit", DataDirectory: t.TempDir(),
		TransportConnectors: []Connector{{Name: "ws", URI: "ws://127.0.0.1:0?maximumConnections=1"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	url := "ws://" + s.Addr("ws") + "/"

	stompConnect := "CONNECT\naccept-version:1.2\nhost:localhost\n\n\x00"
	first := wsDial(t, url, "v12.stomp")
	wsWrite(t, first, stompConnect)
	if f := readFrames(t, first, 1)[0]; !strings.HasPrefix(f, "CONNECTED\n") {
		t.Fatalf("first STOMP client: %q", f)
	}
	second := wsDial(t, url, "v12.stomp")
	wsWrite(t, second, stompConnect)
	if f := readFrames(t, second, 1)[0]; !strings.HasPrefix(f, "ERROR\n") || !strings.Contains(f, "maximum connections (1) reached") {
		t.Fatalf("second STOMP client: %q", f)
	}

	mqttConnect := func(id string) *packets.ConnackPacket {
		c := wsDial(t, url, "mqtt")
		cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
		cp.ProtocolName, cp.ProtocolVersion, cp.ClientIdentifier, cp.CleanSession, cp.Keepalive = "MQTT", 4, id, true, 30
		var buf bytes.Buffer
		if err := cp.Write(&buf); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wsWait)
		defer cancel()
		if err := c.Write(ctx, websocket.MessageBinary, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("%s: reading CONNACK: %v", id, err)
		}
		p, err := packets.ReadPacket(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		ack, ok := p.(*packets.ConnackPacket)
		if !ok {
			t.Fatalf("%s: got %s, want CONNACK", id, p)
		}
		return ack
	}
	if ack := mqttConnect("one"); ack.ReturnCode != packets.Accepted {
		t.Fatalf("first MQTT client: CONNACK %d", ack.ReturnCode)
	}
	if ack := mqttConnect("two"); ack.ReturnCode != packets.ErrRefusedServerUnavailable {
		t.Fatalf("second MQTT client: CONNACK %d, want 3", ack.ReturnCode)
	}
}
