package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/tethermq/tether/client"
	"github.com/tethermq/tether/server/internal/broker"
)

const helloTimeout = 10 * time.Second

// hello learns the remote broker's name, which loop prevention needs before
// any message moves (ActiveMQ exchanges BrokerInfo for this). STOMP's
// CONNECTED frame does not carry it, so the bridge asks the way any client
// could: it watches the consumer advisories of a private probe topic,
// subscribes to that topic, and reads originBroker from the advisory.
func hello(ctx context.Context, remote *client.Conn) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	var id [8]byte
	_, _ = rand.Read(id[:])
	probe := broker.Destination{Kind: broker.Topic, Name: helloPrefix + hex.EncodeToString(id[:])}
	adv, err := remote.Subscribe(ctx, "topic://"+broker.AdvisoryTopic(probe))
	if err != nil {
		return "", fmt.Errorf("hello: %w", err)
	}
	defer unsubscribe(adv)
	sub, err := remote.Subscribe(ctx, probe.String())
	if err != nil {
		return "", fmt.Errorf("hello: %w", err)
	}
	defer unsubscribe(sub)
	m, err := adv.Next(ctx)
	if err != nil {
		return "", fmt.Errorf("hello: no consumer advisory from the remote (is it a tether refbroker?): %w", err)
	}
	name := m.Header("originBroker")
	if name == "" {
		return "", fmt.Errorf("hello: the remote's advisory names no originBroker")
	}
	return name, nil
}

// unsubscribe ends a subscription the bridge no longer needs, bounded in
// time: the connection may be going down.
func unsubscribe(s *client.Subscription) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Unsubscribe(ctx)
}
