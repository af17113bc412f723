package main

import (
	"fmt"
	"math/rand/v2"
	"net"
)

// portPicker hands out loopback ports below the kernel's ephemeral range
// (32768), so that no outgoing connection can take one between the check
// and the broker's bind, and never the same one twice in a run.
type portPicker struct{ used map[int]bool }

func newPortPicker() *portPicker { return &portPicker{used: map[int]bool{}} }

func (p *portPicker) next() (int, error) {
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		if p.used[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		_ = l.Close()
		p.used[port] = true
		return port, nil
	}
	return 0, fmt.Errorf("no free port found between 20000 and 32000")
}
