package lock_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/tethermq/tether/server/internal/lock"
)

// A broker takes the lock before it opens its store, watches it while it
// serves, and stops serving the moment the lock is lost.
func ExampleFileLocker() {
	dir, err := os.MkdirTemp("", "tether-lock-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	l, err := lock.NewFileLocker(lock.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Blocks while another broker is master.
	if err := l.Acquire(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("master:", l.Held())

	ctx, stop := context.WithCancel(context.Background())
	watched := make(chan error, 1)
	go func() {
		watched <- l.Watch(ctx, func(reason error) {
			// Stop accepting work and stop writing the store here.
		})
	}()

	// ... open the store in dir, open client ports, serve ...

	stop()
	fmt.Println("watch:", <-watched)
	if err := l.Release(); err != nil {
		fmt.Println(err)
	}
	fmt.Println("master:", l.Held())
	// Output:
	// master: true
	// watch: <nil>
	// master: false
}
