package mqtt

import (
	"encoding/binary"
	"errors"
	"sort"
)

// A persistent session's record, the value kept under its client id in the
// sessions table: its subscriptions, so that a reconnect (or a broker
// restart) restores them. Version 1 layout, lengths uvarint:
//
//	1 | n | (len, filter, qos) * n
//
// QoS 1 and 2 subscriptions are also durable topic subscriptions in the
// broker, which hold their messages; QoS 0 ones exist only here.

const recordVersion = 1

var errBadRecord = errors.New("unreadable MQTT session record")

type subRecord struct {
	filter string
	qos    byte
}

func encodeRecord(subs map[string]byte) []byte {
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
	return b
}

func decodeRecord(b []byte) ([]subRecord, error) {
	if len(b) < 1 || b[0] != recordVersion {
		return nil, errBadRecord
	}
	b = b[1:]
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return nil, errBadRecord
	}
	b = b[w:]
	out := make([]subRecord, 0, n)
	for range n {
		l, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < l+1 {
			return nil, errBadRecord
		}
		b = b[w:]
		if b[l] > 2 {
			return nil, errBadRecord
		}
		out = append(out, subRecord{filter: string(b[:l]), qos: b[l]})
		b = b[l+1:]
	}
	if len(b) != 0 {
		return nil, errBadRecord
	}
	return out, nil
}
