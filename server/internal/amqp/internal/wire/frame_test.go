package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func u32(v uint32) *uint32 { return &v }

func TestFrameRoundTrip(t *testing.T) {
	ch := uint16(3)
	settled := true
	mode := RcvSecond
	perfs := []Performative{
		&Open{ContainerID: "c1", Hostname: "h", MaxFrameSize: 65536, ChannelMax: 255, IdleTimeout: 30000,
			OfferedCapabilities: []Symbol{"ANONYMOUS-RELAY"}, Properties: Map{{Symbol("product"), "tether"}}},
		&Open{ContainerID: "", MaxFrameSize: 0xffffffff, ChannelMax: 0xffff},
		&Begin{RemoteChannel: &ch, NextOutgoingID: 1, IncomingWindow: 5000, OutgoingWindow: 0xffffffff, HandleMax: 1023},
		&Attach{Name: "l", Handle: 2, Role: RoleReceiver, SndSettleMode: SndSettled, RcvSettleMode: RcvFirst,
			Source: &Source{Address: "queue://q", Durable: 2, ExpiryPolicy: "never", DistributionMode: "move",
				Filter:         Map{{Symbol("jms-selector"), Described{Symbol("apache.org:selector-filter:string"), "a = 1"}}},
				DefaultOutcome: &Modified{DeliveryFailed: true}, Outcomes: []Symbol{"amqp:accepted:list"}},
			Target: &Target{Address: "t"}, MaxMessageSize: 1 << 20},
		&Attach{Name: "s", Handle: 0, Role: RoleSender, SndSettleMode: SndMixed, InitialDeliveryCount: 7, Target: &Target{}},
		&Flow{NextIncomingID: u32(1), IncomingWindow: 10, NextOutgoingID: 2, OutgoingWindow: 3,
			Handle: u32(0), DeliveryCount: u32(4), LinkCredit: u32(100), Drain: true, Echo: true},
		&Flow{IncomingWindow: 10, NextOutgoingID: 2, OutgoingWindow: 3},
		&Transfer{Handle: 1, DeliveryID: u32(9), DeliveryTag: []byte{1, 2}, MessageFormat: u32(0), Settled: &settled,
			More: true, RcvSettleMode: &mode, State: Accepted{}},
		&Transfer{Handle: 1},
		&Disposition{Role: RoleReceiver, First: 1, Last: u32(5), Settled: true, State: &Rejected{Error: &Error{Condition: CondDecodeError, Description: "bad"}}},
		&Disposition{Role: RoleSender, First: 1, State: Released{}},
		&Disposition{Role: RoleReceiver, First: 1, State: &Modified{DeliveryFailed: true, UndeliverableHere: true}},
		&Disposition{Role: RoleReceiver, First: 1, State: &Received{SectionNumber: 1, SectionOffset: 2}},
		&Attach{Name: "c", Handle: 1, Role: RoleSender, Source: &Source{}, Coordinator: &Coordinator{Capabilities: []Symbol{"amqp:local-transactions"}}},
		&Disposition{Role: RoleReceiver, First: 2, State: &Declared{TxnID: []byte{0, 1}}},
		&Disposition{Role: RoleReceiver, First: 3, Settled: true, State: &TransactionalState{TxnID: []byte{9}, Outcome: Accepted{}}},
		&Transfer{Handle: 1, DeliveryID: u32(4), DeliveryTag: []byte{4}, State: &TransactionalState{TxnID: []byte{9}}},
		&Detach{Handle: 4, Closed: true, Error: &Error{Condition: CondDetachForced, Info: Map{{Symbol("k"), "v"}}}},
		&End{},
		&End{Error: &Error{Condition: CondWindowViolation}},
		&Close{Error: &Error{Condition: CondDecodeError, Description: "x"}},
		&SASLMechanisms{Mechanisms: []Symbol{"PLAIN", "ANONYMOUS"}},
		&SASLMechanisms{Mechanisms: []Symbol{}},
		&SASLInit{Mechanism: "PLAIN", InitialResponse: []byte("\x00u\x00p"), Hostname: "h"},
		&SASLChallenge{Challenge: []byte("c")},
		&SASLResponse{Response: []byte("r")},
		&SASLOutcome{Code: SASLAuth},
	}
	for _, p := range perfs {
		var payload []byte
		if _, ok := p.(*Transfer); ok {
			payload = []byte("message bytes")
		}
		b := AppendFrame(nil, 7, p, payload)
		f, err := ReadFrame(bytes.NewReader(b), uint32(len(b)))
		if err != nil {
			t.Errorf("%T: ReadFrame(% x): %v", p, b, err)
			continue
		}
		if f.Channel != 7 || f.Type != p.frameType() {
			t.Errorf("%T: channel %d type %d", p, f.Channel, f.Type)
		}
		if !reflect.DeepEqual(f.Body, p) {
			t.Errorf("round trip of %#v gave %#v", p, f.Body)
		}
		if !bytes.Equal(f.Payload, payload) {
			t.Errorf("%T: payload %q, want %q", p, f.Payload, payload)
		}
	}
}

func TestReadFrameEmptyFrameIsHeartbeat(t *testing.T) {
	f, err := ReadFrame(bytes.NewReader(AppendEmptyFrame(nil)), 512)
	if err != nil || f.Body != nil {
		t.Fatalf("ReadFrame(empty) = %+v, %v; want a frame without a body", f, err)
	}
}

func TestReadFrameErrors(t *testing.T) {
	open := AppendFrame(nil, 0, &Open{ContainerID: "c"}, nil)
	tooBig := append([]byte(nil), open...)
	withPayload := append(append([]byte(nil), open...), 0x40)
	withPayload[3] = byte(len(withPayload))
	sasl := append([]byte(nil), open...)
	sasl[5] = FrameSASL
	cases := []struct {
		name    string
		in      []byte
		max     uint32
		wantErr any
	}{
		{"size below header", []byte{0, 0, 0, 4, 2, 0, 0, 0}, 512, new(*DecodeError)},
		{"size above max", tooBig, 10, new(*FrameSizeError)},
		{"doff below 2", []byte{0, 0, 0, 8, 1, 0, 0, 0}, 512, new(*DecodeError)},
		{"doff past end", []byte{0, 0, 0, 8, 9, 0, 0, 0}, 512, new(*DecodeError)},
		{"unknown type", []byte{0, 0, 0, 8, 2, 7, 0, 0}, 512, new(*DecodeError)},
		{"garbage body", []byte{0, 0, 0, 10, 2, 0, 0, 0, 0xff, 0xff}, 512, new(*DecodeError)},
		{"not described", []byte{0, 0, 0, 9, 2, 0, 0, 0, 0x45}, 512, new(*DecodeError)},
		{"unknown performative", []byte{0, 0, 0, 12, 2, 0, 0, 0, 0x00, 0x53, 0x99, 0x45}, 512, new(*DecodeError)},
		{"open without container id", []byte{0, 0, 0, 12, 2, 0, 0, 0, 0x00, 0x53, 0x10, 0x45}, 512, new(*DecodeError)},
		{"payload after open", withPayload, 512, new(*DecodeError)},
		{"open on a SASL frame", sasl, 512, new(*DecodeError)},
		{"empty SASL frame", []byte{0, 0, 0, 8, 2, 1, 0, 0}, 512, new(*DecodeError)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(c.in), c.max)
			if err == nil || !errors.As(err, c.wantErr) {
				t.Fatalf("ReadFrame(% x) error %v, want %T", c.in, err, c.wantErr)
			}
		})
	}
	if _, err := ReadFrame(bytes.NewReader(open[:len(open)-1]), 512); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated frame: %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestSymbolicDescriptorsAccepted(t *testing.T) {
	body := AppendValue(nil, Described{Symbol("amqp:close:list"), List{}})
	p, _, err := ParseBody(FrameAMQP, body)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.(*Close); !ok {
		t.Fatalf("got %T, want *Close", p)
	}
}
