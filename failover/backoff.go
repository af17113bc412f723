package failover

import (
	"github.com/cenkalti/backoff/v4"
)

// newBackOff builds the delay policy between failed passes from the
// ActiveMQ options: initialReconnectDelay, then ×reconnectDelayExponent after
// each pass (×1 without useExponentialBackOff), capped at maxReconnectDelay,
// never giving up on its own (MaxElapsedTime 0: maxReconnectAttempts decides
// when to stop). Each loop owns one instance; it is not goroutine-safe.
func newBackOff(o *Options, clock Clock) *backoff.ExponentialBackOff {
	mult := o.ReconnectDelayExponent
	if !o.UseExponentialBackOff {
		mult = 1
	}
	b := &backoff.ExponentialBackOff{
		InitialInterval:     o.InitialReconnectDelay,
		RandomizationFactor: o.ReconnectJitter,
		Multiplier:          mult,
		MaxInterval:         o.MaxReconnectDelay,
		MaxElapsedTime:      0,
		Stop:                backoff.Stop,
		Clock:               backoffClock{clock},
	}
	b.Reset()
	return b
}
