//go:build interop

package pgstore_test

import (
	"encoding/binary"
	"testing"

	"github.com/tethermq/tether/server/internal/store/pgstore"
)

// seqKey is a key laid out as the broker lays out a stored message: a tag
// byte, a length-prefixed queue name, then the big-endian sequence number.
func seqKey(queue string, seq uint64) []byte {
	k := []byte{'m', byte(len(queue) >> 8), byte(len(queue))}
	k = append(k, queue...)
	return binary.BigEndian.AppendUint64(k, seq)
}

// BenchmarkPageIn reads a spooled backlog back the way the broker's page-in
// does: Get after Get, in store order. One op is one message.
func BenchmarkPageIn(b *testing.B) {
	for _, bc := range []struct {
		name string
		rows int
	}{{"one-per-query", -1}, {"read-ahead", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			s := open(b, cluster.CreateDB(b), pgstore.Options{ReadAheadRows: bc.rows})
			const n = 4000
			body := make([]byte, 1024)
			batch := s.NewBatch()
			for i := range n {
				batch.Set(seqKey("bench.queue", uint64(i)), body)
			}
			// Another queue's messages right after, as a busy store has.
			for i := range 100 {
				batch.Set(seqKey("bench.queuf", uint64(i)), body)
			}
			if err := batch.Commit(true); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			for i := range b.N {
				v, err := s.Get(seqKey("bench.queue", uint64(i%n)))
				if err != nil || len(v) != len(body) {
					b.Fatalf("Get %d: %d bytes, %v", i%n, len(v), err)
				}
			}
		})
	}
}
