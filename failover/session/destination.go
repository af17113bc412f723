package session

import (
	"fmt"
	"strings"
)

// Kind says whether a destination is point-to-point or publish-subscribe.
type Kind uint8

const (
	// Queue delivers each message to one consumer.
	Queue Kind = iota
	// Topic delivers each message to every subscriber.
	Topic
)

func (k Kind) String() string {
	if k == Topic {
		return "topic"
	}
	return "queue"
}

// Destination names a queue or a topic independently of any protocol.
// Adapters map it to their own form (STOMP /queue/X, AMQP queue://X, MQTT a/b).
type Destination struct {
	Kind Kind
	Name string
}

// String renders the destination in tether's protocol-neutral form,
// queue://NAME or topic://NAME, which ParseDestination reads back.
func (d Destination) String() string {
	return d.Kind.String() + "://" + d.Name
}

// ParseDestination reads queue://NAME, topic://NAME or a bare NAME (a queue).
func ParseDestination(s string) (Destination, error) {
	var d Destination
	switch {
	case strings.HasPrefix(s, "queue://"):
		d = Destination{Kind: Queue, Name: s[len("queue://"):]}
	case strings.HasPrefix(s, "topic://"):
		d = Destination{Kind: Topic, Name: s[len("topic://"):]}
	case strings.Contains(s, "://"):
		return Destination{}, fmt.Errorf("destination %q: unknown kind (want queue://NAME or topic://NAME)", s)
	default:
		d = Destination{Kind: Queue, Name: s}
	}
	if d.Name == "" {
		return Destination{}, fmt.Errorf("destination %q: empty name", s)
	}
	return d, nil
}
