package network

import (
	"slices"
	"strconv"
	"strings"

	"github.com/tethermq/tether/server/internal/broker"
)

// demandEvent is one consumer advisory: a consumer appeared on (or left) a
// destination of the broker that published it.
type demandEvent struct {
	add        bool
	consumerID string
	dest       broker.Destination
	priority   int
	// path lists the brokers whose demand the consumer represents (empty
	// for an application's consumer).
	path   []string
	origin string
	// static marks a staticallyIncludedDestinations entry: demand that
	// exists whatever the advisories say.
	static bool
}

// parseAdvisory reads a consumer advisory (see broker/advisory.go) that
// arrived on the advisory topic named topic; get returns a header's value,
// "" if absent. The consumer's destination is read from the topic name
// (it is also in consumerDestination).
func parseAdvisory(topic string, get func(string) string) (demandEvent, bool) {
	var ev demandEvent
	switch get("advisoryType") {
	case "add":
		ev.add = true
	case "remove":
	default:
		return ev, false
	}
	d, ok := advisedDestination(topic)
	if !ok {
		return ev, false
	}
	ev.dest = d
	ev.consumerID = get("consumerId")
	ev.priority, _ = strconv.Atoi(get("consumerPriority"))
	ev.origin = get("originBroker")
	ev.path = splitPath(get("networkBrokerPath"))
	return ev, ev.consumerID != ""
}

// advisedDestination maps ActiveMQ.Advisory.Consumer.Queue.X to queue X
// and ActiveMQ.Advisory.Consumer.Topic.X to topic X.
func advisedDestination(topic string) (broker.Destination, bool) {
	rest, ok := strings.CutPrefix(topic, broker.AdvisoryConsumerPfx)
	if !ok {
		return broker.Destination{}, false
	}
	if name, ok := strings.CutPrefix(rest, "Queue."); ok && name != "" {
		return broker.Destination{Kind: broker.Queue, Name: name}, true
	}
	if name, ok := strings.CutPrefix(rest, "Topic."); ok && name != "" {
		return broker.Destination{Kind: broker.Topic, Name: name}, true
	}
	return broker.Destination{}, false
}

// hdrSubNetworkPath marks a subscription as a network bridge's: its value
// lists the brokers whose demand the subscription represents (this broker
// first). The remote's consumer advisories carry it as networkBrokerPath,
// so a duplex bridge's pull subscriptions are never taken for application
// demand, which would bounce messages back and forth. The remote keeps
// topic copies that passed through the first broker away from it.
const hdrSubNetworkPath = "tether-network-path"

func splitPath(v string) []string {
	if v == "" {
		return nil
	}
	return slices.DeleteFunc(strings.Split(v, ","), func(s string) bool { return s == "" })
}
