package groups_test

import (
	"fmt"

	"github.com/tethermq/tether/groups"
)

// The broker's queue dispatcher drives a Map under the queue's lock: it
// reports each grouped message's life (Hold, Dispatched, Release) and asks
// Route where the next message goes.
func ExampleMap() {
	m := groups.NewMap(0)
	consumers := []groups.Candidate{{ID: 1}, {ID: 2}}

	// dispatch tries to deliver one queued message of group.
	dispatch := func(group string, seq int) {
		owner, d := m.Route(group, seq)
		switch d {
		case groups.Wait:
			fmt.Printf("%s seq %d waits\n", group, seq)
			return
		case groups.NeedOwner:
			owner = consumers[m.ChooseOwner(consumers)].ID
			if m.Assign(group, owner) {
				fmt.Printf("%s is now owned by consumer %d\n", group, owner)
			}
		}
		m.Dispatched(group)
		fmt.Printf("%s seq %d -> consumer %d\n", group, seq, owner)
		if seq < 0 {
			m.Close(group)
		}
	}

	m.Hold("order-1")
	dispatch("order-1", 1)
	m.Hold("order-2")
	dispatch("order-2", 1) // consumer 2 owns fewer groups
	m.Hold("order-1")
	dispatch("order-1", -1) // the last message of order-1's sequence
	m.Hold("order-1")
	dispatch("order-1", 1) // a new sequence: waits for the closing message
	m.Release("order-1")
	m.Release("order-1") // both acknowledged: order-1 has no owner now
	dispatch("order-1", 1)
	fmt.Println("groups:", m.Len(), "consumer 1 owns", m.Count(1))
	// Output:
	// order-1 is now owned by consumer 1
	// order-1 seq 1 -> consumer 1
	// order-2 is now owned by consumer 2
	// order-2 seq 1 -> consumer 2
	// order-1 seq -1 -> consumer 1
	// order-1 seq 1 waits
	// order-1 is now owned by consumer 1
	// order-1 seq 1 -> consumer 1
	// groups: 2 consumer 1 owns 1
}
