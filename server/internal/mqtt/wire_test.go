package mqtt

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/url"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

func decode(t *testing.T, b []byte, max int) (packets.ControlPacket, error) {
	t.Helper()
	return readPacket(bufio.NewReader(bytes.NewReader(b)), max)
}

func encode(t *testing.T, p packets.ControlPacket) []byte {
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
		"reserved type 0":       {[]byte{0x00, 0x00}, errMalformed},
		"server-only CONNACK":   {[]byte{0x20, 0x02, 0x00, 0x00}, errMalformed},
		"SUBSCRIBE bad flags":   {append([]byte{0x80}, sub[1:]...), errMalformed},
		"PUBLISH QoS 3":         {append([]byte{0x36}, pub[1:]...), errMalformed},
		"PINGREQ with flags":    {[]byte{0xc1, 0x00}, errMalformed},
		"length over 4 bytes":   {[]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, errMalformed},
		"field past the end":    {truncatedSub, errMalformed},
		"trailing bytes":        {unsubTrailing, errMalformed},
		"too large":             {append([]byte{0x30}, 0xff, 0xff, 0x7f), errTooLarge},
		"truncated body (EOF)":  {pub[:len(pub)-1], io.ErrUnexpectedEOF},
		"publish payload < 0":   {[]byte{0x32, 0x03, 0x00, 0x01, 'a'}, errMalformed},
		"connect wrong strings": {[]byte{0x10, 0x03, 0x00, 0x09, 'M'}, errMalformed},
	} {
		_, err := decode(t, tc.in, 1<<20)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	in := map[string]byte{"a/#": 1, "b/+/c": 2, "z": 0}
	recs, _, err := decodeRecord(encodeRecord(in, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(in) {
		t.Fatalf("got %v", recs)
	}
	for _, r := range recs {
		if in[r.filter] != r.qos {
			t.Errorf("record %q qos %d, want %d", r.filter, r.qos, in[r.filter])
		}
	}
	for _, bad := range [][]byte{nil, {2}, {1, 1}, {1, 1, 1, 'a', 3}, append(encodeRecord(in, nil), 0)} {
		if _, _, err := decodeRecord(bad); err == nil {
			t.Errorf("decodeRecord(%x) accepted", bad)
		}
	}
}

func TestParseOptions(t *testing.T) {
	q, _ := url.ParseQuery("maximumConnections=10&wireFormat.maxFrameSize=4096&transport.defaultKeepAlive=60000" +
		"&transport.connectAttemptTimeout=5000&transport.activeMQSubscriptionPrefetch=50&transport.soWriteTimeout=2000")
	o, err := ParseOptions(q)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{MaxConnections: 10, MaxFrameSize: 4096, DefaultKeepAlive: time.Minute,
		ConnectTimeout: 5 * time.Second, SubscriptionPrefetch: 50, WriteTimeout: 2 * time.Second}
	if o.MaxConnections != want.MaxConnections || o.MaxFrameSize != want.MaxFrameSize ||
		o.DefaultKeepAlive != want.DefaultKeepAlive || o.ConnectTimeout != want.ConnectTimeout ||
		o.SubscriptionPrefetch != want.SubscriptionPrefetch || o.WriteTimeout != want.WriteTimeout {
		t.Errorf("got %+v, want %+v", o, want)
	}
	for _, bad := range []string{"nope=1", "maximumConnections=-1", "wireFormat.maxFrameSize=0", "transport.defaultKeepAlive=soon"} {
		q, _ := url.ParseQuery(bad)
		if _, err := ParseOptions(q); err == nil {
			t.Errorf("ParseOptions(%s) accepted", bad)
		}
	}
}
