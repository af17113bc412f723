package broker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tethermq/tether/server/internal/store"
)

// BenchmarkRecovery times what a restart or a takeover pays with a backlog
// on disk: opening the journal (checkpoint plus the records after it) and
// the broker's recovery (keys only), for backlogs of several sizes. Each
// message carries a duplicate-detection id, as the SDK's do.
func BenchmarkRecovery(b *testing.B) {
	for _, n := range []int{10000, 100000, 300000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			dir := b.TempDir()
			st, err := store.OpenJournal(dir, store.JournalOptions{})
			if err != nil {
				b.Fatal(err)
			}
			br, err := New(Config{}, st)
			if err != nil {
				b.Fatal(err)
			}
			s, _ := br.NewSession(SessionOptions{})
			var wg sync.WaitGroup
			body := make([]byte, 100)
			for i := range n {
				wg.Add(1)
				s.Send(context.Background(), &Message{Dest: Destination{Queue, "r"}, Body: body, Persistent: true,
					DupID: fmt.Sprint("dup-", i)}, "", func(err error) {
					if err != nil {
						b.Error(err)
					}
					wg.Done()
				})
			}
			wg.Wait()
			br.Close()
			st.Close()
			b.ResetTimer()
			var openT, recT time.Duration
			for range b.N {
				t0 := time.Now()
				st, err := store.OpenJournal(dir, store.JournalOptions{})
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				br, err := New(Config{}, st)
				if err != nil {
					b.Fatal(err)
				}
				openT += t1.Sub(t0)
				recT += time.Since(t1)
				b.StopTimer()
				br.Close()
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(openT.Milliseconds())/float64(b.N), "open-ms")
			b.ReportMetric(float64(recT.Milliseconds())/float64(b.N), "recover-ms")
		})
	}
}
