package mqtt

import (
	"fmt"
	"strings"

	"github.com/tethermq/tether/failover/session"
)

// Destinations map as ActiveMQ maps MQTT topics: topic://a.b.c is a/b/c,
// and the wildcards * and > are + and #. Each pair swaps, so a '/', '+' or
// '#' inside a tether name becomes '.', '*' or '>' on the wire and back:
// the mapping is its own inverse (tether's broker does the same).

// topicName maps a destination to an MQTT topic (wildcards allowed: the
// caller checks where they are not).
func topicName(d session.Destination) (string, error) {
	if d.Kind != session.Topic {
		return "", unsupported("queue destinations (MQTT 3.1.1 addresses topics only; use topic://NAME)")
	}
	if d.Name == "" {
		return "", fmt.Errorf("mqtt: empty topic name")
	}
	return strings.Map(swap, d.Name), nil
}

// destination maps a received topic name back.
func destination(topic string) session.Destination {
	return session.Destination{Kind: session.Topic, Name: strings.Map(swap, topic)}
}

func swap(r rune) rune {
	switch r {
	case '/':
		return '.'
	case '.':
		return '/'
	case '+':
		return '*'
	case '*':
		return '+'
	case '#':
		return '>'
	case '>':
		return '#'
	}
	return r
}

// checkFilter validates a topic filter: '+' and '#' alone in their level,
// '#' last (MQTT 3.1.1 section 4.7.1).
func checkFilter(f string) error {
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.ContainsAny(l, "+#") && l != "+" && l != "#" {
			return fmt.Errorf("mqtt: topic filter %q: a wildcard must fill its whole level", f)
		}
		if l == "#" && i != len(levels)-1 {
			return fmt.Errorf("mqtt: topic filter %q: '#' must be the last level", f)
		}
	}
	return nil
}

// matches reports whether topic name t matches filter f: '+' is one level,
// '#' the rest including the parent level, and a filter starting with a
// wildcard does not match a topic starting with '$' ([MQTT-4.7.2-1]).
func matches(f, t string) bool {
	if (strings.HasPrefix(f, "+") || strings.HasPrefix(f, "#")) && strings.HasPrefix(t, "$") {
		return false
	}
	fl, tl := strings.Split(f, "/"), strings.Split(t, "/")
	for i, l := range fl {
		if l == "#" {
			return true
		}
		if i >= len(tl) || (l != "+" && l != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}

// overlap reports whether some topic name matches both filters. Two
// overlapping subscriptions on one MQTT session receive a message once or
// once per subscription, at the broker's choice, and nothing on the wire
// says which subscription a copy is for.
func overlap(a, b string) bool {
	al, bl := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; ; i++ {
		switch {
		case i < len(al) && al[i] == "#", i < len(bl) && bl[i] == "#":
			return true
		case i == len(al) || i == len(bl):
			return len(al) == len(bl)
		case al[i] != "+" && bl[i] != "+" && al[i] != bl[i]:
			return false
		}
	}
}
