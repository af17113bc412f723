package amqp

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
	"github.com/tethermq/tether/server/internal/broker"
)

// The bare message is immutable for intermediaries (part 3, section 3.2):
// an AMQP message goes out to AMQP receivers with the producer's encoded
// properties, application-properties, body and footer sections unchanged,
// byte for byte, and its message-annotations kept. The broker's own
// additions go only into the header (durability, priority, time left to
// live, delivery count) and the message annotations. This is what Artemis
// does; broker.Message's other fields carry the same message, converted,
// for STOMP and MQTT.
//
// broker.Message.AMQP holds those sections in this connector's encoding:
//
//	version 1 | flags | nHeaders uvarint | len uvarint, message-annotations section
//	| cut uvarint | the sections from the bare message on, Body cut out
//
// nHeaders is how many broker.Message.Headers the connector made from the
// message: the broker appends its own (dead-lettering adds
// original-destination and dlqDeliveryFailureCause), and those go out as
// message annotations named x-opt-<header>.
//
// The body's bytes are already in broker.Message.Body, so when they are
// one contiguous run at the end of the (only) body section they are cut
// out and spliced back at offset cut on the way out, and a large message
// is not stored twice. cut = 0 means nothing was cut (no section starts
// with its payload, so 0 is never a real offset).
const (
	passVersion = 1
	passHasID   = 1 // the bare message has a message-id
)

// annBrokerID is the message annotation carrying the broker's message id
// when the producer's bare message has no message-id, so that a receiver
// still has a unique id per message (the SDK's duplicate audit needs one)
// without the broker adding a properties section of its own.
const annBrokerID = wire.Symbol("x-opt-tether-message-id")

// keepSections builds broker.Message.AMQP from a received message and its
// encoding, or returns nil when its sections are not in the specified
// order (header, delivery-annotations, message-annotations, then the bare
// message), in which case the message is re-encoded from its fields.
func keepSections(wm *wire.Message, enc []byte, m *broker.Message) []byte {
	body := m.Body
	tail := len(enc)
	var ann []byte
	bodies := 0
	var bodySec wire.Section
	for i, s := range wm.Sections {
		// Section codes ascend in the specified order (data sections
		// repeat): header 0x70 ... message-annotations 0x72, then the bare
		// message from properties 0x73, then the footer 0x78.
		if i > 0 && s.Code < wm.Sections[i-1].Code {
			return nil
		}
		if s.Code >= wire.SectionProperties && tail == len(enc) {
			tail = s.Start
		}
		switch s.Code {
		case wire.SectionMessageAnnotations:
			ann = enc[s.Start:s.End]
		case wire.SectionData, wire.SectionAMQPValue, wire.SectionAMQPSequence:
			bodies++
			bodySec = s
		}
	}
	cut := 0
	if bodies == 1 && len(body) > 0 && bodySec.End-len(body) > bodySec.Start &&
		bytes.Equal(enc[bodySec.End-len(body):bodySec.End], body) {
		cut = bodySec.End - len(body) - tail
	}
	var flags byte
	if wm.Properties != nil && wm.Properties.MessageID != nil {
		flags |= passHasID
	}
	out := make([]byte, 0, 16+len(ann)+len(enc)-tail-len(body))
	out = append(out, passVersion, flags)
	out = binary.AppendUvarint(out, uint64(len(m.Headers)))
	out = binary.AppendUvarint(out, uint64(len(ann)))
	out = append(out, ann...)
	out = binary.AppendUvarint(out, uint64(cut))
	if cut > 0 {
		out = append(out, enc[tail:tail+cut]...)
		return append(out, enc[tail+cut+len(body):]...)
	}
	return append(out, enc[tail:]...)
}

// kept is broker.Message.AMQP taken apart.
type kept struct {
	hasID    bool
	nHeaders int
	ann      []byte // the producer's message-annotations section, if any
	cut      int
	tail     []byte
}

var errKeptCorrupt = errors.New("malformed stored AMQP sections")

func parseKept(b []byte) (kept, error) {
	var k kept
	if len(b) < 2 || b[0] != passVersion {
		return k, errKeptCorrupt
	}
	k.hasID = b[1]&passHasID != 0
	b = b[2:]
	nh, w := binary.Uvarint(b)
	if w <= 0 || nh > 1<<20 {
		return k, errKeptCorrupt
	}
	k.nHeaders, b = int(nh), b[w:]
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return k, errKeptCorrupt
	}
	k.ann = b[w : w+int(n)]
	b = b[w+int(n):]
	c, w := binary.Uvarint(b)
	if w <= 0 || c > uint64(len(b)-w) {
		return k, errKeptCorrupt
	}
	k.cut, k.tail = int(c), b[w:]
	return k, nil
}

// appendKept appends the producer's sections as kept, after the header
// the caller wrote: its message annotations, with the broker's additions
// (its message id when the bare message has none, headers it appended),
// then the bare message with the body spliced back.
func appendKept(out []byte, k kept, m *broker.Message) ([]byte, error) {
	var add wire.Map
	if !k.hasID {
		add = append(add, wire.MapEntry{Key: annBrokerID, Value: m.ID})
	}
	if k.nHeaders < len(m.Headers) {
		for _, h := range m.Headers[k.nHeaders:] {
			add = append(add, wire.MapEntry{Key: wire.Symbol("x-opt-" + h.Name), Value: h.Value})
		}
	}
	if len(add) == 0 {
		out = append(out, k.ann...)
	} else {
		var ann wire.Map
		if len(k.ann) > 0 {
			wm, err := wire.DecodeMessage(k.ann)
			if err != nil || wm.MessageAnnotations == nil {
				return nil, errKeptCorrupt
			}
			ann = wm.MessageAnnotations
		}
		out = wire.AppendMessageAnnotations(out, append(ann[:len(ann):len(ann)], add...))
	}
	if k.cut == 0 {
		return append(out, k.tail...), nil
	}
	out = append(out, k.tail[:k.cut]...)
	out = append(out, m.Body...)
	return append(out, k.tail[k.cut:]...), nil
}
