package main

import (
	"strings"
	"time"
)

// The CLI is a client of the admin JSON API (docs/admin.md), not of the
// broker's code: it decodes only the fields it prints, so that it works
// against any broker version that serves them.

// queueRow is one entry of GET /api/queues.
type queueRow struct {
	Destination  string `json:"destination"`
	Pending      int64  `json:"pending"`
	OnDisk       int64  `json:"onDisk"`
	InFlight     int64  `json:"inFlight"`
	Consumers    int    `json:"consumers"`
	Enqueued     uint64 `json:"enqueued"`
	Dequeued     uint64 `json:"dequeued"`
	Expired      uint64 `json:"expired"`
	DeadLettered uint64 `json:"deadLettered"`
	Groups       int    `json:"groups"`
}

// messageRow is one entry of GET /api/queues/{name}/messages.
type messageRow struct {
	ID           string    `json:"id"`
	Persistent   bool      `json:"persistent"`
	Timestamp    time.Time `json:"timestamp"`
	Headers      []header  `json:"headers"`
	BodyBytes    int       `json:"bodyBytes"`
	Body         string    `json:"body"`
	BodyEncoding string    `json:"bodyEncoding"`
}

type header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// dlqName is ActiveMQ's shared dead-letter queue, where the broker moves
// what it gives up on.
const dlqName = "ActiveMQ.DLQ"

// canonicalDestination writes a destination as queue://X or topic://X,
// whichever spelling (STOMP's /queue/X, the SDK's, a bare queue name) the
// header carried.
func canonicalDestination(s string) string {
	switch {
	case strings.HasPrefix(s, "queue://"), strings.HasPrefix(s, "topic://"):
		return s
	case strings.HasPrefix(s, "/queue/"):
		return "queue://" + s[len("/queue/"):]
	case strings.HasPrefix(s, "/topic/"):
		return "topic://" + s[len("/topic/"):]
	case s == "":
		return ""
	}
	return "queue://" + s
}
