package network

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Network connector URIs are the broker's, not the client's: static:(...)
// and masterslave:(...) name the brokers to bridge to and carry the
// reconnect options of ActiveMQ's SimpleDiscoveryAgent; multicast:// (see
// multicast.go) takes the same reconnect options for discovered brokers.
// The client SDK reads none of this: a bridge dials the listed brokers with
// client.Dial and hands these options over as typed client options
// (reconnectOptions.clientOptions).

// reconnectOptions are static:'s options, with the names and defaults of
// ActiveMQ's SimpleDiscoveryAgent.
type reconnectOptions struct {
	// initialReconnectDelay (1000 ms)
	InitialReconnectDelay time.Duration
	// maxReconnectDelay (30000 ms)
	MaxReconnectDelay time.Duration
	// useExponentialBackOff (true)
	UseExponentialBackOff bool
	// backOffMultiplier (2): static: spells the growth factor this way.
	BackOffMultiplier float64
	// maxReconnectAttempts (0): here 0 means unlimited, N > 0 limits.
	MaxReconnectAttempts int
	// minConnectTime (5000 ms): a bridge that fails sooner than this after
	// it was established counts as a failed attempt; later failures reset
	// the delay.
	MinConnectTime time.Duration
}

func defaultReconnectOptions() reconnectOptions {
	return reconnectOptions{
		InitialReconnectDelay: time.Second,
		MaxReconnectDelay:     30 * time.Second,
		UseExponentialBackOff: true,
		BackOffMultiplier:     2,
		MinConnectTime:        5 * time.Second,
	}
}

// set applies one option by its URI name; unknown names are errors.
func (o *reconnectOptions) set(name, v string) error {
	var err error
	switch name {
	case "initialReconnectDelay":
		o.InitialReconnectDelay, err = parseMillis(v)
	case "maxReconnectDelay":
		o.MaxReconnectDelay, err = parseMillis(v)
	case "useExponentialBackOff":
		o.UseExponentialBackOff, err = parseBool(v)
	case "backOffMultiplier":
		o.BackOffMultiplier, err = strconv.ParseFloat(v, 64)
		if err == nil && o.BackOffMultiplier < 1 {
			err = fmt.Errorf("want at least 1")
		}
	case "maxReconnectAttempts":
		o.MaxReconnectAttempts, err = strconv.Atoi(v)
		if err == nil && o.MaxReconnectAttempts < 0 {
			err = fmt.Errorf("want 0 (unlimited) or more")
		}
	case "minConnectTime":
		o.MinConnectTime, err = parseMillis(v)
	default:
		return fmt.Errorf("unknown static: option (want initialReconnectDelay, maxReconnectDelay, useExponentialBackOff, backOffMultiplier, maxReconnectAttempts, minConnectTime)")
	}
	if err != nil {
		return fmt.Errorf("bad value %q: %w", v, err)
	}
	return nil
}

func parseMillis(v string) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a whole number of milliseconds")
	}
	return time.Duration(n) * time.Millisecond, nil
}

// parseBool takes true or false only: a typo is an error, not false.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("want true or false")
}

// parseList reads "(uri1,...,uriN)?options" (the part after static: or
// masterslave:): the broker URIs, and the reconnect options.
func parseList(rest string) ([]*url.URL, reconnectOptions, error) {
	retry := defaultReconnectOptions()
	rest = strings.TrimPrefix(strings.TrimSpace(rest), "//")
	inner, query := rest, ""
	if strings.HasPrefix(rest, "(") {
		end := strings.LastIndex(rest, ")")
		if end < 0 {
			return nil, retry, fmt.Errorf("unbalanced parentheses")
		}
		inner, query = rest[1:end], rest[end+1:]
		if query != "" {
			q, ok := strings.CutPrefix(query, "?")
			if !ok {
				return nil, retry, fmt.Errorf("unexpected %q after the closing parenthesis", query)
			}
			query = q
		}
	}
	var brokers []*url.URL
	seen := map[string]bool{}
	for _, c := range strings.Split(inner, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		u, err := url.Parse(c)
		if err != nil {
			return nil, retry, fmt.Errorf("broker URI %q: %w", c, err)
		}
		u.Scheme = strings.ToLower(u.Scheme)
		switch {
		case u.Scheme == "":
			return nil, retry, fmt.Errorf("broker URI %q: no scheme (want e.g. tcp://host:61616)", c)
		case u.Scheme == "failover" || u.Scheme == "static" || u.Scheme == "masterslave":
			return nil, retry, fmt.Errorf("broker URI %q: lists cannot be nested", c)
		case u.Hostname() == "":
			return nil, retry, fmt.Errorf("broker URI %q: no host", c)
		}
		if !seen[u.String()] {
			seen[u.String()] = true
			brokers = append(brokers, u)
		}
	}
	if len(brokers) == 0 {
		return nil, retry, fmt.Errorf("no broker URIs")
	}
	given := map[string]bool{}
	for _, part := range strings.Split(query, "&") {
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		name, err1 := url.QueryUnescape(k)
		value, err2 := url.QueryUnescape(v)
		switch {
		case err1 != nil || err2 != nil:
			return nil, retry, fmt.Errorf("option %q: bad URL encoding", k)
		case !ok:
			return nil, retry, fmt.Errorf("option %q: needs a value (name=value)", name)
		case given[name]:
			return nil, retry, fmt.Errorf("option %q: given twice", name)
		}
		given[name] = true
		if err := retry.set(name, value); err != nil {
			return nil, retry, fmt.Errorf("option %q: %w", name, err)
		}
	}
	if retry.MaxReconnectDelay < retry.InitialReconnectDelay {
		return nil, retry, fmt.Errorf("maxReconnectDelay %v is below initialReconnectDelay %v", retry.MaxReconnectDelay, retry.InitialReconnectDelay)
	}
	return brokers, retry, nil
}
