package broker

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/tethermq/tether/server/internal/store"
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

	// Messages are recovered from their keys alone: each queue learns the
	// store order of what it holds (8 bytes a message) and pages the
	// messages in when consumers come, so recovery costs no value reads and
	// the broker's memory does not grow with the backlog.
	var orphans [][]byte
	messages := 0
	spools := map[*queue][]uint64{}
	byQID := map[string]*queue{} // a queue per qid, looked up without allocating
	err = b.st.ScanKeys([]byte{tagMessage}, func(k []byte) error {
		qidb, seq, err := splitMessageKey(k)
		if err != nil {
			return fmt.Errorf("recover: %w", err)
		}
		q, ok := byQID[string(qidb)]
		if !ok {
			qid := string(qidb)
			switch {
			case len(qid) > 2 && qid[:2] == "q:":
				q = b.queueFor(Destination{Queue, qid[2:]})
			case b.durables[qid] != nil:
				q = b.durables[qid].q
			}
			byQID[qid] = q
		}
		if q == nil {
			orphans = append(orphans, append([]byte(nil), k...))
			return nil
		}
		spools[q] = append(spools[q], seq)
		messages++
		return nil
	})
	if err != nil {
		return err
	}
	for q, seqs := range spools {
		slices.Sort(seqs)
		q.spool.buf = seqs
		q.enqueued += uint64(len(seqs))
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
