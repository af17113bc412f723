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
	if len(ev.path) == 0 {
		ev.path = pathFromSelector(get("selector"))
	}
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

// A duplex bridge's subscriptions on the remote broker are network
// consumers, and the remote's advisories must say so: without the path,
// each side would take the other's pull subscriptions for application
// demand and bounce messages back and forth. The path travels in the
// selector, as a comment that leaves the selector always true; the
// remote's advisories show the selector, and every bridge reads the path
// back from it. The SDK could send it as the tether-network-path SUBSCRIBE
// header (client.Headers), but the STOMP connector then also refuses the
// subscription every message that already passed through this broker
// (loop prevention for forwarding bridges), and a duplex bridge pulls such
// queue messages back when their consumer moved here. The header can
// replace the comment once the connector separates the two.
const selectorPathTag = "tether-network-path:"

func selectorWithPath(path []string) string {
	return "TRUE /* " + selectorPathTag + strings.Join(path, ",") + " */"
}

func pathFromSelector(sel string) []string {
	_, rest, ok := strings.Cut(sel, "/* "+selectorPathTag)
	if !ok {
		return nil
	}
	list, _, ok := strings.Cut(rest, " */")
	if !ok {
		return nil
	}
	return splitPath(list)
}

func splitPath(v string) []string {
	if v == "" {
		return nil
	}
	return slices.DeleteFunc(strings.Split(v, ","), func(s string) bool { return s == "" })
}
