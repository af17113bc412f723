package broker

import (
	"encoding/binary"
	"fmt"

	"github.com/tethermq/tether/server/store"
)

// recover rebuilds the in-memory state from the store: a new epoch (so
// message ids and store order never repeat across restarts or a master
// change), durable subscriptions, every stored message in its queue in
// store order, and the duplicate-detection windows.
func (b *Broker) recover() error {
	var epoch uint64
	v, err := b.st.Get(keyEpoch)
	switch {
	case err == nil && len(v) == 8:
		epoch = binary.BigEndian.Uint64(v)
	case err != nil && err != store.ErrNotFound:
		return fmt.Errorf("recover: epoch: %w", err)
	}
	b.epoch = epoch + 1
	batch := b.st.NewBatch()
	batch.Set(keyEpoch, binary.BigEndian.AppendUint64(nil, b.epoch))
	if err := batch.Commit(true); err != nil {
		return fmt.Errorf("recover: epoch: %w", err)
	}

	err = b.st.Scan([]byte{tagDurable}, func(k, v []byte) error {
		s, err := decodeDurable(v)
		if err != nil {
			b.log.Error("skipping unreadable durable subscription", "err", err)
			return nil
		}
		qid := durableQID(s.clientID, s.name)
		s.q = newQueue(b, s.pattern, qid, true)
		s.q.sub = s
		b.durables[qid] = s
		b.registerSubLocked(s)
		return nil
	})
	if err != nil {
		return fmt.Errorf("recover: durable subscriptions: %w", err)
	}

	var orphans [][]byte
	messages := 0
	err = b.st.Scan([]byte{tagMessage}, func(k, v []byte) error {
		qid, _, err := parseMessageKey(k)
		if err != nil {
			return fmt.Errorf("recover: %w", err)
		}
		m, err := decodeMessage(v)
		if err != nil {
			return fmt.Errorf("recover: message %x: %w", k, err)
		}
		var q *queue
		switch {
		case len(qid) > 2 && qid[:2] == "q:":
			q = b.queueFor(Destination{Queue, qid[2:]})
		case b.durables[qid] != nil:
			q = b.durables[qid].q
		default:
			orphans = append(orphans, append([]byte(nil), k...))
			return nil
		}
		m.size = m.memSize()
		b.mem.charge(m.size)
		m.refs = 1
		// Delivery counts are not stored, so a recovered message may have
		// been delivered (even acked without a receipt) before the restart:
		// flag it redelivered, as the hint that the application may have
		// seen it already.
		q.addLocked(&entry{msg: m, persisted: true, recovered: true})
		messages++
		return nil
	})
	if err != nil {
		return err
	}

	slots := map[string][]dupSlot{}
	err = b.st.Scan([]byte{tagDup}, func(k, v []byte) error {
		dest, id, err := parseDupKey(k)
		if err != nil || len(v) != 8 {
			orphans = append(orphans, append([]byte(nil), k...))
			return nil
		}
		slots[dest] = append(slots[dest], dupSlot{id, binary.BigEndian.Uint64(v)})
		return nil
	})
	if err != nil {
		return fmt.Errorf("recover: duplicate windows: %w", err)
	}
	for dest, ss := range slots {
		w := newDupWindow(dest, b.cfg.DupWindow)
		orphans = append(orphans, w.restore(ss)...)
		b.dups[dest] = w
	}
	if len(orphans) > 0 {
		batch := b.st.NewBatch()
		for _, k := range orphans {
			batch.Delete(k)
		}
		if err := batch.Commit(true); err != nil {
			return fmt.Errorf("recover: cleanup: %w", err)
		}
	}
	b.log.Info("store recovered", "epoch", b.epoch, "messages", messages,
		"durableSubscriptions", len(b.durables), "dupWindows", len(b.dups))
	return nil
}
