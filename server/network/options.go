package network

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Options is one network connector: activemq.xml's <networkConnector>, with
// the same attribute names (its YAML keys) and the same defaults. Start from
// Defaults when building Options in Go: several defaults are true.
type Options struct {
	// Name ("NC") names the connector; it must be unique per broker, and it
	// is part of the outbox queue and client id names, so do not rename a
	// connector that still has messages waiting in its outbox.
	Name string `yaml:"name"`
	// URI is static:(tcp://a:61616,...), masterslave:(tcp://master,tcp://slave)
	// or multicast://default[?group=...]. static: and masterslave: take the
	// reconnect options initialReconnectDelay (1000 ms), maxReconnectDelay
	// (30000 ms), useExponentialBackOff (true), backOffMultiplier (2),
	// maxReconnectAttempts (0: forever) and minConnectTime (5000 ms).
	URI string `yaml:"uri"`
	// Duplex (false): the bridge also brings the remote broker's messages
	// here for the consumers of this broker, so the remote needs no
	// connector of its own. Configure it on one side only.
	Duplex bool `yaml:"duplex"`
	// NetworkTTL (1) sets both MessageTTL and ConsumerTTL.
	NetworkTTL int `yaml:"networkTTL"`
	// MessageTTL is how many brokers a message may pass through; a message
	// whose broker path is that long is not forwarded. 0: NetworkTTL.
	MessageTTL int `yaml:"messageTTL"`
	// ConsumerTTL is how far demand travels: a remote consumer that already
	// represents this many brokers is ignored. 0: NetworkTTL.
	ConsumerTTL int `yaml:"consumerTTL"`
	// ConduitSubscriptions (true): all remote consumers of a queue count as
	// one network consumer here. Topics are always conduited: one copy of
	// each message per remote broker.
	ConduitSubscriptions bool `yaml:"conduitSubscriptions"`
	// DecreaseNetworkConsumerPriority (true, as ActiveMQ 5.18+): network
	// consumers get priority -5 (less with every further hop), so local
	// consumers are served first; with false they take the remote
	// consumer's priority.
	DecreaseNetworkConsumerPriority bool `yaml:"decreaseNetworkConsumerPriority"`
	// DynamicOnly is accepted for compatibility. Its ActiveMQ meaning (create
	// networked durable subscriptions only once the durable is active) is
	// how tether always behaves: bridges follow active consumers only.
	DynamicOnly bool `yaml:"dynamicOnly"`
	// StaticBridge (false): ignore remote demand entirely and bridge only
	// StaticallyIncludedDestinations.
	StaticBridge bool `yaml:"staticBridge"`
	// StaticallyIncludedDestinations are forwarded as if the remote always
	// had a consumer: queue://X, topic://X (wildcards for topics only).
	StaticallyIncludedDestinations []string `yaml:"staticallyIncludedDestinations"`
	// DynamicallyIncludedDestinations limits demand forwarding to these
	// patterns (queue://orders.>, topic://prices.*); empty means all.
	DynamicallyIncludedDestinations []string `yaml:"dynamicallyIncludedDestinations"`
	// ExcludedDestinations are never bridged on demand (static inclusion
	// wins, as in ActiveMQ).
	ExcludedDestinations []string `yaml:"excludedDestinations"`
	// PrefetchSize (1000) is the prefetch of the bridge's consumers, and the
	// number of messages one bridge may have on their way to the remote.
	PrefetchSize int `yaml:"prefetchSize"`
	// ReplayWhenNoConsumers (false) lets a queue message go back to a broker
	// it came from when this broker has no consumer of its own for it
	// (ActiveMQ's cure for stuck messages; it needs a MessageTTL of 2 or more).
	ReplayWhenNoConsumers bool `yaml:"replayWhenNoConsumers"`
	// UserName and Password are the credentials the bridge logs in with.
	UserName string `yaml:"userName"`
	Password string `yaml:"password"`
}

// Defaults returns ActiveMQ's defaults: name NC, networkTTL 1,
// conduitSubscriptions and decreaseNetworkConsumerPriority true, prefetch 1000.
func Defaults() Options {
	return Options{
		Name:                            "NC",
		NetworkTTL:                      1,
		ConduitSubscriptions:            true,
		DecreaseNetworkConsumerPriority: true,
		PrefetchSize:                    1000,
	}
}

// messageTTL and consumerTTL resolve ActiveMQ's rule: networkTTL sets
// both, an explicit messageTTL or consumerTTL wins.
func (o *Options) messageTTL() int {
	if o.MessageTTL > 0 {
		return o.MessageTTL
	}
	return o.NetworkTTL
}

func (o *Options) consumerTTL() int {
	if o.ConsumerTTL > 0 {
		return o.ConsumerTTL
	}
	return o.NetworkTTL
}

// Validate checks the options and names the first bad one.
func (o *Options) Validate() error {
	if o.Name == "" {
		return errors.New("name: must not be empty")
	}
	if strings.Trim(o.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
		return fmt.Errorf("name %q: letters, digits, '.', '_' and '-' only (it names queues and client ids)", o.Name)
	}
	if _, err := parseTarget(o.URI); err != nil {
		return fmt.Errorf("uri: %w", err)
	}
	if o.NetworkTTL < 1 {
		return fmt.Errorf("networkTTL %d: must be at least 1", o.NetworkTTL)
	}
	if o.MessageTTL < 0 || o.ConsumerTTL < 0 {
		return errors.New("messageTTL, consumerTTL: must not be negative (0 takes networkTTL)")
	}
	if o.PrefetchSize < 1 {
		return fmt.Errorf("prefetchSize %d: must be at least 1 (network consumers never pull)", o.PrefetchSize)
	}
	if _, err := parseStatics(o.StaticallyIncludedDestinations); err != nil {
		return fmt.Errorf("staticallyIncludedDestinations: %w", err)
	}
	if _, err := parsePatterns(o.DynamicallyIncludedDestinations); err != nil {
		return fmt.Errorf("dynamicallyIncludedDestinations: %w", err)
	}
	if _, err := parsePatterns(o.ExcludedDestinations); err != nil {
		return fmt.Errorf("excludedDestinations: %w", err)
	}
	return nil
}

// optionFields maps each YAML key to its field index, for strict decoding
// and for the attribute options of ParseFlag.
var optionFields = func() map[string]int {
	m := map[string]int{}
	t := reflect.TypeFor[Options]()
	for i := range t.NumField() {
		m[t.Field(i).Tag.Get("yaml")] = i
	}
	return m
}()

// UnknownOptionError names an option that a network connector does not
// have, suggesting the right spelling when only the case differs.
type UnknownOptionError struct {
	Option string
	Line   int // in the YAML file; 0 when not from YAML
}

func (e *UnknownOptionError) Error() string {
	msg := fmt.Sprintf("unknown network connector option %q", e.Option)
	if e.Line > 0 {
		msg = fmt.Sprintf("line %d: %s", e.Line, msg)
	}
	for known := range optionFields {
		if strings.EqualFold(known, e.Option) {
			return fmt.Sprintf("%s (did you mean %q?)", msg, known)
		}
	}
	return msg
}

// UnmarshalYAML decodes one networkConnectors entry over Defaults. Unknown
// keys are errors: yaml.v3's strict mode does not reach into a custom
// unmarshaler, so the keys are checked here.
func (o *Options) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a network connector is a mapping of options", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if _, ok := optionFields[k.Value]; !ok {
			return &UnknownOptionError{Option: k.Value, Line: k.Line}
		}
	}
	type plain Options // no UnmarshalYAML: decodes field by field
	p := plain(Defaults())
	if err := n.Decode(&p); err != nil {
		return err
	}
	*o = Options(p)
	return nil
}
