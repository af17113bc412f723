package groups_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/tethermq/tether/groups"
)

// delivery stands in for a received message; the tether client's messages
// satisfy groups.Message directly.
type delivery struct {
	group string
	body  string
}

func (d delivery) GroupID() string                { return d.group }
func (d delivery) FirstForConsumer() bool         { return false }
func (d delivery) Ack(ctx context.Context) error  { return nil }
func (d delivery) Nack(ctx context.Context) error { return nil }

// A Dispatcher handles each customer's messages in order, one at a time,
// while different customers are handled in parallel.
func ExampleDispatcher() {
	var mu sync.Mutex
	seen := map[string][]string{}
	d := groups.NewDispatcher(func(ctx context.Context, m groups.Message) error {
		mu.Lock()
		defer mu.Unlock()
		seen[m.GroupID()] = append(seen[m.GroupID()], m.(delivery).body)
		return nil // acknowledged
	}, groups.Options{Workers: 4})

	in := make(chan groups.Message)
	go func() {
		defer close(in)
		for i := 1; i <= 3; i++ {
			for _, customer := range []string{"alice", "bob"} {
				in <- delivery{group: customer, body: fmt.Sprint("step ", i)}
			}
		}
	}()
	if err := d.Run(context.Background(), in); err != nil {
		fmt.Println(err)
	}

	for _, customer := range slices.Sorted(maps.Keys(seen)) {
		fmt.Println(customer, seen[customer])
	}
	// Output:
	// alice [step 1 step 2 step 3]
	// bob [step 1 step 2 step 3]
}
