package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// The stored form of a message. Version 2 layout, all lengths uvarint:
//
//	2 | flags | priority | seq u64 | expires varint | timestamp varint | groupSeq varint
//	| id | dest kind, name | correlation | replyTo | type | contentType | groupID | dupID
//	| producer | nPath, path... | nHeaders, (name, value)... | amqp | body
//
// Version 1 is the same without the amqp field (Message.AMQP).
//
// Only persistent messages are encoded; the format is versioned so that a
// store written by an older broker stays readable.
const codecVersion = 2

const flagPersistent = 1

func encodeMessage(m *Message) []byte {
	n := 64 + len(m.Body) + len(m.ID) + len(m.Dest.Name) + len(m.CorrelationID) + len(m.ReplyTo) +
		len(m.Type) + len(m.ContentType) + len(m.GroupID) + len(m.DupID) + len(m.ProducerConn) + len(m.AMQP)
	for _, h := range m.Headers {
		n += len(h.Name) + len(h.Value) + 4
	}
	for _, p := range m.BrokerPath {
		n += len(p) + 2
	}
	b := make([]byte, 0, n)
	var flags byte
	if m.Persistent {
		flags |= flagPersistent
	}
	b = append(b, codecVersion, flags, m.Priority)
	b = binary.BigEndian.AppendUint64(b, m.seq)
	b = binary.AppendVarint(b, m.Expires)
	b = binary.AppendVarint(b, m.Timestamp)
	b = binary.AppendVarint(b, int64(m.GroupSeq))
	b = appendStr(b, m.ID)
	b = append(b, byte(m.Dest.Kind))
	for _, s := range []string{m.Dest.Name, m.CorrelationID, m.ReplyTo, m.Type, m.ContentType, m.GroupID, m.DupID, m.ProducerConn} {
		b = appendStr(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(m.BrokerPath)))
	for _, p := range m.BrokerPath {
		b = appendStr(b, p)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Headers)))
	for _, h := range m.Headers {
		b = appendStr(b, h.Name)
		b = appendStr(b, h.Value)
	}
	b = binary.AppendUvarint(b, uint64(len(m.AMQP)))
	b = append(b, m.AMQP...)
	return append(b, m.Body...)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errCorrupt = errors.New("corrupt stored message")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.err = errCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) u64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = errCorrupt
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil || uint64(len(d.b)) < n {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func decodeMessage(b []byte) (*Message, error) {
	d := &decoder{b: b}
	version := d.byte()
	if version != 1 && version != codecVersion {
		return nil, fmt.Errorf("stored message version %d: %w", version, errCorrupt)
	}
	m := &Message{}
	flags := d.byte()
	m.Persistent = flags&flagPersistent != 0
	m.Priority = d.byte()
	m.seq = d.u64()
	m.Expires = d.varint()
	m.Timestamp = d.varint()
	m.GroupSeq = int32(d.varint())
	m.ID = d.str()
	m.Dest.Kind = DestKind(d.byte())
	m.Dest.Name = d.str()
	m.CorrelationID = d.str()
	m.ReplyTo = d.str()
	m.Type = d.str()
	m.ContentType = d.str()
	m.GroupID = d.str()
	m.DupID = d.str()
	m.ProducerConn = d.str()
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b)) {
			return nil, errCorrupt
		}
		m.BrokerPath = make([]string, n)
		for i := range m.BrokerPath {
			m.BrokerPath[i] = d.str()
		}
	}
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b)) {
			return nil, errCorrupt
		}
		m.Headers = make([]Header, n)
		for i := range m.Headers {
			m.Headers[i] = Header{d.str(), d.str()}
		}
	}
	if version >= 2 {
		if n := d.uvarint(); n > 0 && d.err == nil {
			if n > uint64(len(d.b)) {
				return nil, errCorrupt
			}
			m.AMQP = append([]byte(nil), d.b[:n]...)
			d.b = d.b[n:]
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	m.Body = append([]byte(nil), d.b...)
	upgradeOriginalDestination(m)
	return m, nil
}

// upgradeOriginalDestination reads a dead letter stored by a broker that
// wrote its original-destination header in STOMP's spelling (/queue/X,
// /topic/X), before that spelling moved out of the core, as the broker's
// form, so that MoveFromDLQ and every connector see one form. Only dead
// letters are rewritten: on any other message the header is a producer's
// own property. Records keep their version, so an older broker still
// reads what this one writes.
func upgradeOriginalDestination(m *Message) {
	if m.Dest != DLQ {
		return
	}
	for i, h := range m.Headers {
		if h.Name != HeaderOriginalDestination {
			continue
		}
		if name, ok := strings.CutPrefix(h.Value, "/queue/"); ok {
			m.Headers[i].Value = Destination{Queue, name}.String()
		} else if name, ok := strings.CutPrefix(h.Value, "/topic/"); ok {
			m.Headers[i].Value = Destination{Topic, name}.String()
		}
		return
	}
}
