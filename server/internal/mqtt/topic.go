package mqtt

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Topic names and filters: validation (MQTT 3.1.1 section 4.7) and the
// mapping to broker topic names.

var (
	errEmptyTopic   = errors.New("empty topic")
	errBadUTF8      = errors.New("topic is not valid UTF-8 or contains U+0000")
	errWildcardName = errors.New("wildcard in a topic name")
	errBadWildcard  = errors.New("'+' or '#' not alone in its level, or '#' not last")
)

func checkString(s string) error {
	if s == "" {
		return errEmptyTopic
	}
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return errBadUTF8
	}
	return nil
}

// checkTopicName validates a PUBLISH (or will) topic: no wildcards.
func checkTopicName(s string) error {
	if err := checkString(s); err != nil {
		return err
	}
	if strings.ContainsAny(s, "+#") {
		return errWildcardName
	}
	return nil
}

// checkFilter validates a SUBSCRIBE topic filter.
func checkFilter(s string) error {
	if err := checkString(s); err != nil {
		return err
	}
	for rest := s; ; {
		level, tail, more := strings.Cut(rest, "/")
		if strings.ContainsAny(level, "+#") && level != "+" && level != "#" {
			return errBadWildcard
		}
		if level == "#" && more {
			return errBadWildcard
		}
		if !more {
			return nil
		}
		rest = tail
	}
}

// toBroker maps an MQTT topic name or filter to the broker's form, as
// ActiveMQ does: '/' and '.' swap, '+' and '*' swap, '#' and '>' swap. So
// the MQTT wildcards become the broker's, and a '.', '*' or '>' inside an
// MQTT level becomes a character the broker takes literally. The mapping is
// its own inverse.
func toBroker(s string) string { return strings.Map(swapSeparators, s) }

// fromBroker maps a broker topic name (from any protocol) to MQTT.
func fromBroker(s string) string { return strings.Map(swapSeparators, s) }

func swapSeparators(r rune) rune {
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

// matches applies MQTT filter semantics to a topic name, for retained
// messages (live messages are matched by the broker): '+' is one level,
// '#' the rest including the parent level, and a filter starting with a
// wildcard does not match a topic starting with '$' ([MQTT-4.7.2-1]).
func matches(filter, topic string) bool {
	if startsWithWildcard(filter) && strings.HasPrefix(topic, "$") {
		return false
	}
	for {
		f, frest, fmore := strings.Cut(filter, "/")
		if f == "#" {
			return true
		}
		t, trest, tmore := strings.Cut(topic, "/")
		if f != "+" && f != t {
			return false
		}
		if !fmore || !tmore {
			// "a/#" matches "a": the filter's last level is "#".
			return fmore == tmore || (fmore && frest == "#")
		}
		filter, topic = frest, trest
	}
}

func startsWithWildcard(filter string) bool {
	return strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")
}
