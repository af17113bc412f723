package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

func connectPacket(id string, clean bool, keepAlive uint16) *packets.ConnectPacket {
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion = "MQTT", 4
	cp.ClientIdentifier, cp.CleanSession, cp.Keepalive = id, clean, keepAlive
	return cp
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

func decode(t testing.TB, b []byte, max int) (packets.ControlPacket, error) {
	t.Helper()
	return Read(bufio.NewReader(bytes.NewReader(b)), max)
}

func encode(t testing.TB, p packets.ControlPacket) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadPacketRoundTrip(t *testing.T) {
	cp := connectPacket("client-1", false, 30)
	cp.WillFlag, cp.WillTopic, cp.WillMessage, cp.WillQos = true, "w/t", []byte("bye"), 1
	cp.UsernameFlag, cp.Username, cp.PasswordFlag, cp.Password = true, "u", true, []byte("p")
	for _, p := range []packets.ControlPacket{
		cp,
		publishPacket("a/b", 2, 7, "payload"),
		publishPacket("a/b", 0, 0, ""),
		subscribePacket(3, "a/#", 1),
		&packets.UnsubscribePacket{FixedHeader: packets.FixedHeader{MessageType: packets.Unsubscribe, Qos: 1}, MessageID: 4, Topics: []string{"a/#", "b"}},
		&packets.PubrelPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Pubrel, Qos: 1}, MessageID: 5},
		packets.NewControlPacket(packets.Pingreq),
		packets.NewControlPacket(packets.Disconnect),
	} {
		got, err := decode(t, encode(t, p), 1<<20)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got.String() != p.String() {
			t.Errorf("round trip: got %s, want %s", got, p)
		}
	}
}

func TestReadPacketRejects(t *testing.T) {
	pub := encode(t, publishPacket("a/b", 1, 1, "x"))
	sub := encode(t, subscribePacket(1, "a/b", 0))
	truncatedSub := append([]byte(nil), sub...)
	truncatedSub[1] -= 2 // remaining length now ends inside the filter
	truncatedSub = truncatedSub[:len(truncatedSub)-2]
	unsubTrailing := encode(t, &packets.UnsubscribePacket{FixedHeader: packets.FixedHeader{MessageType: packets.Unsubscribe, Qos: 1}, MessageID: 4, Topics: []string{"a"}})
	unsubTrailing = append(unsubTrailing, 0x07)
	unsubTrailing[1]++
	for name, tc := range map[string]struct {
		in   []byte
		want error
	}{
		"reserved type 0":       {[]byte{0x00, 0x00}, ErrMalformed},
		"server-only CONNACK":   {[]byte{0x20, 0x02, 0x00, 0x00}, ErrMalformed},
		"SUBSCRIBE bad flags":   {append([]byte{0x80}, sub[1:]...), ErrMalformed},
		"PUBLISH QoS 3":         {append([]byte{0x36}, pub[1:]...), ErrMalformed},
		"PINGREQ with flags":    {[]byte{0xc1, 0x00}, ErrMalformed},
		"length over 4 bytes":   {[]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, ErrMalformed},
		"field past the end":    {truncatedSub, ErrMalformed},
		"trailing bytes":        {unsubTrailing, ErrMalformed},
		"too large":             {append([]byte{0x30}, 0xff, 0xff, 0x7f), ErrTooLarge},
		"truncated body (EOF)":  {pub[:len(pub)-1], io.ErrUnexpectedEOF},
		"publish payload < 0":   {[]byte{0x32, 0x03, 0x00, 0x01, 'a'}, ErrMalformed},
		"connect wrong strings": {[]byte{0x10, 0x03, 0x00, 0x09, 'M'}, ErrMalformed},
	} {
		_, err := decode(t, tc.in, 1<<20)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
}
