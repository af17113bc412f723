package network

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tethermq/tether/server/internal/broker"
)

// Names the bridges keep to themselves: advisories, outboxes and the hello
// probe are never bridged, whatever the include lists say.
const (
	internalPrefix = "ActiveMQ.Network."
	outboxPrefix   = internalPrefix + "Outbox."
	helloPrefix    = internalPrefix + "Hello."
)

// internal reports whether d is plumbing rather than application traffic.
func internal(d broker.Destination) bool {
	return strings.HasPrefix(d.Name, broker.AdvisoryPrefix) || strings.HasPrefix(d.Name, internalPrefix)
}

// pattern is a destination filter with ActiveMQ's wildcards: segments are
// separated by '.', '*' matches one segment and a final '>' the rest.
type pattern struct {
	kind broker.DestKind
	segs []string
}

func parsePattern(s string) (pattern, error) {
	d, err := broker.ParseDestination(strings.TrimSpace(s))
	if err != nil {
		return pattern{}, err
	}
	segs := strings.Split(d.Name, ".")
	for i, seg := range segs {
		if seg == "" {
			return pattern{}, fmt.Errorf("destination %q: empty name segment", s)
		}
		if seg == ">" && i != len(segs)-1 {
			return pattern{}, fmt.Errorf("destination %q: '>' must be the last segment", s)
		}
	}
	return pattern{kind: d.Kind, segs: segs}, nil
}

func parsePatterns(list []string) ([]pattern, error) {
	out := make([]pattern, 0, len(list))
	for _, s := range list {
		p, err := parsePattern(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// parseStatics reads staticallyIncludedDestinations: these are subscribed
// to as they are written, and the broker has no wildcard queues.
func parseStatics(list []string) ([]broker.Destination, error) {
	out := make([]broker.Destination, 0, len(list))
	for _, s := range list {
		if _, err := parsePattern(s); err != nil {
			return nil, err
		}
		d, _ := broker.ParseDestination(strings.TrimSpace(s))
		if d.Kind == broker.Queue && (strings.Contains(d.Name, "*") || strings.Contains(d.Name, ">")) {
			return nil, fmt.Errorf("destination %q: wildcards are for topics only", s)
		}
		if internal(d) {
			return nil, fmt.Errorf("destination %q: advisories and ActiveMQ.Network.* are never bridged", s)
		}
		out = append(out, d)
	}
	return out, nil
}

// matches reports whether d (possibly itself a wildcard subscription, whose
// name is then compared segment by segment) falls under the pattern.
func (p pattern) matches(d broker.Destination) bool {
	if p.kind != d.Kind {
		return false
	}
	segs := strings.Split(d.Name, ".")
	for i, ps := range p.segs {
		if ps == ">" {
			return true
		}
		if i >= len(segs) || (ps != "*" && ps != segs[i]) {
			return false
		}
	}
	return len(segs) == len(p.segs)
}

// destFilter decides which destinations follow demand: included (all when
// the include list is empty) and not excluded.
type destFilter struct {
	include, exclude []pattern
}

func newDestFilter(o *Options) destFilter {
	inc, _ := parsePatterns(o.DynamicallyIncludedDestinations) // validated by Options.Validate
	exc, _ := parsePatterns(o.ExcludedDestinations)
	return destFilter{include: inc, exclude: exc}
}

func (f destFilter) allows(d broker.Destination) bool {
	if internal(d) {
		return false
	}
	if slices.ContainsFunc(f.exclude, func(p pattern) bool { return p.matches(d) }) {
		return false
	}
	return len(f.include) == 0 || slices.ContainsFunc(f.include, func(p pattern) bool { return p.matches(d) })
}
