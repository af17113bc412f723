package failover

import (
	"fmt"
	"time"
)

// StaticOptions are the options of static:(...), with the names and defaults
// of ActiveMQ's SimpleDiscoveryAgent. A static: list names independent
// brokers that a network connector bridges to one by one, so each bridge
// reconnects on its own with these settings; it is not a failover list and
// client.Dial refuses it.
type StaticOptions struct {
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
	// connecting counts as a failed attempt; later failures reset the delay.
	MinConnectTime time.Duration
}

// DefaultStaticOptions returns static:'s defaults.
func DefaultStaticOptions() StaticOptions {
	return StaticOptions{
		InitialReconnectDelay: time.Second,
		MaxReconnectDelay:     30 * time.Second,
		UseExponentialBackOff: true,
		BackOffMultiplier:     2,
		MinConnectTime:        5 * time.Second,
	}
}

func (s *StaticOptions) apply(name, value string) (err error) {
	switch name {
	case "initialReconnectDelay":
		s.InitialReconnectDelay, err = parseMillis(value, 0)
	case "maxReconnectDelay":
		s.MaxReconnectDelay, err = parseMillis(value, 0)
	case "useExponentialBackOff":
		s.UseExponentialBackOff, err = parseBool(value)
	case "backOffMultiplier":
		s.BackOffMultiplier, err = parseFactor(value)
	case "maxReconnectAttempts":
		s.MaxReconnectAttempts, err = parseInt(value, 0)
	case "minConnectTime":
		s.MinConnectTime, err = parseMillis(value, 0)
	default:
		err = fmt.Errorf("unknown static: option")
	}
	return err
}
