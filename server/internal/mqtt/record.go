package mqtt

import (
	"encoding/binary"
	"errors"
	"sort"
)

// A persistent session's record, the value kept under its client id in the
// sessions table: its subscriptions, so that a reconnect (or a broker
// restart) restores them, and the packet ids of outbound QoS 2 messages
// released (PUBREC received) but not completed, whose PUBRELs are owed
// even after a restart. Version 2 layout, lengths uvarint, ids big-endian:
//
//	2 | n | (len, filter, qos) * n | m | id16 * m
//
// Version 1 (written before PUBRELs were kept) is the same without the ids.
// QoS 1 and 2 subscriptions are also durable topic subscriptions in the
// broker, which hold their messages; QoS 0 ones exist only here.

const recordVersion = 2

var errBadRecord = errors.New("unreadable MQTT session record")

type subRecord struct {
	filter string
	qos    byte
}

func encodeRecord(subs map[string]byte, released []uint16) []byte {
	filters := make([]string, 0, len(subs))
	for f := range subs {
		filters = append(filters, f)
	}
	sort.Strings(filters) // deterministic, and restored in a stable order
	b := []byte{recordVersion}
	b = binary.AppendUvarint(b, uint64(len(filters)))
	for _, f := range filters {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
		b = append(b, subs[f])
	}
	b = binary.AppendUvarint(b, uint64(len(released)))
	for _, id := range released {
		b = binary.BigEndian.AppendUint16(b, id)
	}
	return b
}

func decodeRecord(b []byte) ([]subRecord, []uint16, error) {
	if len(b) < 1 || (b[0] != 1 && b[0] != recordVersion) {
		return nil, nil, errBadRecord
	}
	version := b[0]
	b = b[1:]
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return nil, nil, errBadRecord
	}
	b = b[w:]
	out := make([]subRecord, 0, n)
	for range n {
		l, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < l+1 {
			return nil, nil, errBadRecord
		}
		b = b[w:]
		if b[l] > 2 {
			return nil, nil, errBadRecord
		}
		out = append(out, subRecord{filter: string(b[:l]), qos: b[l]})
		b = b[l+1:]
	}
	var ids []uint16
	if version >= 2 {
		m, w := binary.Uvarint(b)
		if w <= 0 || m > uint64(len(b)) || uint64(len(b)-w) != 2*m {
			return nil, nil, errBadRecord
		}
		b = b[w:]
		for range m {
			id := binary.BigEndian.Uint16(b)
			if id == 0 {
				return nil, nil, errBadRecord
			}
			ids = append(ids, id)
			b = b[2:]
		}
	}
	if len(b) != 0 {
		return nil, nil, errBadRecord
	}
	return out, ids, nil
}
