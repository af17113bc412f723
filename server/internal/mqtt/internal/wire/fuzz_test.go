package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// seedPackets are packets as clients send them (paho, mosquitto_pub),
// encoded by paho: the fuzzer's starting corpus.
func seedPackets(t testing.TB) [][]byte {
	cp := connectPacket("client-1", false, 30)
	cp.WillFlag, cp.WillTopic, cp.WillMessage, cp.WillQos, cp.WillRetain = true, "w/t", []byte("bye"), 1, true
	cp.UsernameFlag, cp.Username, cp.PasswordFlag, cp.Password = true, "u", true, []byte("p")
	v31 := connectPacket("old", true, 0)
	v31.ProtocolName, v31.ProtocolVersion = "MQIsdp", 3
	var out [][]byte
	for _, p := range []packets.ControlPacket{
		cp, v31, connectPacket("", true, 60),
		publishPacket("a/b", 0, 0, "hello"),
		publishPacket("a/b", 1, 7, "payload"),
		publishPacket("$SYS/x", 2, 65535, ""),
		subscribePacket(3, "a/#", 1),
		&packets.SubscribePacket{FixedHeader: packets.FixedHeader{MessageType: packets.Subscribe, Qos: 1}, MessageID: 9, Topics: []string{"a/+/c", "d"}, Qoss: []byte{2, 0}},
		&packets.UnsubscribePacket{FixedHeader: packets.FixedHeader{MessageType: packets.Unsubscribe, Qos: 1}, MessageID: 4, Topics: []string{"a/#", "b"}},
		&packets.PubackPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Puback}, MessageID: 5},
		&packets.PubrecPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Pubrec}, MessageID: 5},
		&packets.PubrelPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Pubrel, Qos: 1}, MessageID: 5},
		&packets.PubcompPacket{FixedHeader: packets.FixedHeader{MessageType: packets.Pubcomp}, MessageID: 5},
		packets.NewControlPacket(packets.Pingreq),
		packets.NewControlPacket(packets.Disconnect),
	} {
		out = append(out, encode(t, p))
	}
	return out
}

// readAll reads packets until an error.
func readAll(data []byte, limit int) ([]packets.ControlPacket, error) {
	r := bufio.NewReader(bytes.NewReader(data))
	var out []packets.ControlPacket
	for range 100 {
		p, err := Read(r, limit)
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
	return out, nil
}

// FuzzRead feeds arbitrary bytes to Read. Properties: no panic; only the
// documented errors; no packet over the limit; every packet read, written
// by paho, reads back as the same packet, and writing that again gives
// the same bytes.
func FuzzRead(f *testing.F) {
	var all []byte
	for _, b := range seedPackets(f) {
		f.Add(b)
		all = append(all, b...)
	}
	f.Add(all)
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0x7f})          // a huge PUBLISH announced
	f.Add([]byte{0x10, 0x03, 0x00, 0x09, 'M'})           // CONNECT with a string past the end
	f.Add([]byte{0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0}) // SUBSCRIBE with an empty filter
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 4096
		ps, err := readAll(data, limit)
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) &&
			!errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		for _, p := range ps {
			if n := p.Details(); n.Qos > 2 {
				t.Fatalf("QoS %d passed", n.Qos)
			}
			var buf bytes.Buffer
			if err := p.Write(&buf); err != nil {
				continue // paho cannot write some packets it reads (a string over 64 KiB cannot come from 4 KiB)
			}
			enc := buf.Bytes()
			back, err := readAll(enc, len(enc))
			if len(back) != 1 || !errors.Is(err, io.EOF) {
				t.Fatalf("re-read of %x (from %s): %d packets, %v", enc, p, len(back), err)
			}
			if back[0].String() != p.String() {
				t.Fatalf("round trip:\n got %s\nwant %s", back[0], p)
			}
			var again bytes.Buffer
			if err := back[0].Write(&again); err != nil || !bytes.Equal(again.Bytes(), enc) {
				t.Fatalf("second encoding differs: %x, want %x (%v)", again.Bytes(), enc, err)
			}
		}
	})
}
