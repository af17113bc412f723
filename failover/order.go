package failover

import (
	"net/url"
	"strings"
)

// sameBroker compares two broker URIs by host and port, ignoring scheme
// case, options and user info: the same broker reached with other options is
// still the same broker.
func sameBroker(a, b *url.URL) bool {
	if a == nil || b == nil {
		return false
	}
	return strings.EqualFold(a.Host, b.Host)
}

func containsBroker(list []*url.URL, u *url.URL) bool {
	for _, v := range list {
		if sameBroker(v, u) {
			return true
		}
	}
	return false
}

// passOrder returns the brokers to try in one pass, as ActiveMQ builds its
// connect list: shuffled when randomize is on, then the broker whose
// connection was just lost moved to the end so that the others are tried
// first. With priorityBackup the priority brokers go first (tether's
// addition: a pass should reach for the preferred broker before the rest).
func passOrder(brokers []*url.URL, lost *url.URL, randomize bool, shuffle func(n int, swap func(i, j int)), isPriority func(*url.URL) bool) []*url.URL {
	list := make([]*url.URL, 0, len(brokers))
	var last *url.URL
	for _, u := range brokers {
		if last == nil && sameBroker(u, lost) {
			last = u
			continue
		}
		list = append(list, u)
	}
	if randomize && len(list) > 1 {
		shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
	}
	if isPriority != nil {
		var first, rest []*url.URL
		for _, u := range list {
			if isPriority(u) {
				first = append(first, u)
			} else {
				rest = append(rest, u)
			}
		}
		list = append(first, rest...)
	}
	if last != nil {
		list = append(list, last)
	}
	return list
}
