package broker

import (
	"encoding/binary"
	"errors"
)

// Store key layout. Every key starts with a one-byte table tag; variable
// parts are length-prefixed so that no name can be a prefix of another.
//
//	'e'                                  -> u64 epoch, bumped at every start
//	'm' | len,qid | seq u64              -> encoded message held by queue qid
//	's' | len,qid                        -> durable subscription definition
//	'u' | len,dest | len,dupID           -> u64 insertion order in dest's dup window
//
// A qid is "q:<queue name>" for a queue and "d:<clientID>\x00<subscription
// name>" for a durable topic subscription.
const (
	tagEpoch   = 'e'
	tagMessage = 'm'
	tagDurable = 's'
	tagDup     = 'u'
)

var keyEpoch = []byte{tagEpoch}

func appendLenStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func messageKey(qid string, seq uint64) []byte {
	b := make([]byte, 0, 1+2+len(qid)+8)
	b = append(b, tagMessage)
	b = appendLenStr(b, qid)
	return binary.BigEndian.AppendUint64(b, seq)
}

func parseMessageKey(k []byte) (qid string, seq uint64, err error) {
	b, seq, err := splitMessageKey(k)
	return string(b), seq, err
}

// splitMessageKey is parseMessageKey without the copy: qid aliases k.
func splitMessageKey(k []byte) (qid []byte, seq uint64, err error) {
	if len(k) < 1 || k[0] != tagMessage {
		return nil, 0, errors.New("not a message key")
	}
	n, w := binary.Uvarint(k[1:])
	if w <= 0 || uint64(len(k)) != 1+uint64(w)+n+8 {
		return nil, 0, errors.New("malformed message key")
	}
	return k[1+w : 1+w+int(n)], binary.BigEndian.Uint64(k[len(k)-8:]), nil
}

func durableKey(qid string) []byte {
	return appendLenStr([]byte{tagDurable}, qid)
}

func dupPrefix(dest string) []byte {
	return appendLenStr([]byte{tagDup}, dest)
}

func dupKey(dest, id string) []byte {
	return appendLenStr(dupPrefix(dest), id)
}

func parseDupKey(k []byte) (dest, id string, err error) {
	if len(k) < 1 || k[0] != tagDup {
		return "", "", errors.New("not a dup key")
	}
	d := &decoder{b: k[1:]}
	dest = d.str()
	id = d.str()
	if d.err != nil || len(d.b) != 0 {
		return "", "", errors.New("malformed dup key")
	}
	return dest, id, nil
}

func queueQID(name string) string            { return "q:" + name }
func durableQID(clientID, sub string) string { return "d:" + clientID + "\x00" + sub }
