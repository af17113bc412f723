package failover

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options are the failover: transport options, with ActiveMQ 5.6+ names
// (the URI spelling is given for each field), defaults and meanings, plus
// tether's reconnectJitter and connectTimeout. DefaultOptions returns them
// at their defaults.
type Options struct {
	// initialReconnectDelay (10 ms): the wait before the first pass after a
	// lost connection, and the first delay between failed passes.
	InitialReconnectDelay time.Duration
	// maxReconnectDelay (30000 ms): the cap on the delay between passes.
	MaxReconnectDelay time.Duration
	// useExponentialBackOff (true): grow the delay after each failed pass.
	UseExponentialBackOff bool
	// reconnectDelayExponent (2.0): the growth factor of the delay.
	ReconnectDelayExponent float64
	// maxReconnectAttempts (-1): passes over the list before giving up;
	// -1 forever, 0 one pass at startup and no reconnect after a loss.
	MaxReconnectAttempts int
	// startupMaxReconnectAttempts (-1): the same limit while no connection
	// has ever succeeded; -1 falls back to MaxReconnectAttempts.
	StartupMaxReconnectAttempts int
	// warnAfterReconnectAttempts (10): log a warning every N failed passes;
	// 0 or less never.
	WarnAfterReconnectAttempts int
	// timeout (-1 ms): how long an operation waits for a connection before
	// failing with ErrTimeout; 0 or less waits as long as its context allows.
	Timeout time.Duration
	// randomize (true): shuffle the list before each pass.
	Randomize bool
	// backup (false): keep BackupPoolSize handshaken standby connections to
	// other brokers and switch to one at once when the connection is lost.
	Backup bool
	// backupPoolSize (1): how many standby connections backup keeps.
	BackupPoolSize int
	// priorityBackup (false): while connected to a non-priority broker, keep
	// probing the priority ones and move back when one answers.
	PriorityBackup bool
	// priorityURIs (none: the first URI of the list): the priority brokers.
	PriorityURIs []*url.URL
	// trackMessages (false): keep sends that asked for no confirmation in a
	// cache of MaxCacheSize bytes and re-send them after a reconnect.
	TrackMessages bool
	// maxCacheSize (131072 bytes): the size of the trackMessages cache.
	MaxCacheSize int
	// updateURIsSupported (true): add brokers that a broker advertises (only
	// protocols that advertise: none over STOMP) to the list.
	UpdateURIsSupported bool
	// updateURIsURL (none): a file (path or file: URL) or http(s) URL holding
	// a comma-separated broker list, read again before every pass.
	UpdateURIsURL string
	// reconnectJitter (true = 0.2): each delay is drawn from
	// delay×[1-j, 1+j]; false or 0 gives ActiveMQ's exact delays.
	ReconnectJitter float64
	// connectTimeout (10000 ms): the deadline for one connection attempt,
	// TCP connect and protocol handshake together.
	ConnectTimeout time.Duration
}

// Defaults of the tether-specific options.
const (
	DefaultReconnectJitter = 0.2
	DefaultConnectTimeout  = 10 * time.Second
)

// DefaultOptions returns the options a bare failover:(...) URI gets.
func DefaultOptions() Options {
	return Options{
		InitialReconnectDelay:       10 * time.Millisecond,
		MaxReconnectDelay:           30 * time.Second,
		UseExponentialBackOff:       true,
		ReconnectDelayExponent:      2.0,
		MaxReconnectAttempts:        -1,
		StartupMaxReconnectAttempts: -1,
		WarnAfterReconnectAttempts:  10,
		Timeout:                     -time.Millisecond,
		Randomize:                   true,
		BackupPoolSize:              1,
		MaxCacheSize:                128 * 1024,
		UpdateURIsSupported:         true,
		ReconnectJitter:             DefaultReconnectJitter,
		ConnectTimeout:              DefaultConnectTimeout,
	}
}

// optionSetters maps each failover: option name to the code that applies it.
var optionSetters = map[string]func(o *Options, v string) error{
	"initialReconnectDelay":       msSetter(func(o *Options) *time.Duration { return &o.InitialReconnectDelay }, 0),
	"maxReconnectDelay":           msSetter(func(o *Options) *time.Duration { return &o.MaxReconnectDelay }, 0),
	"useExponentialBackOff":       boolSetter(func(o *Options) *bool { return &o.UseExponentialBackOff }),
	"reconnectDelayExponent":      setReconnectDelayExponent,
	"maxReconnectAttempts":        intSetter(func(o *Options) *int { return &o.MaxReconnectAttempts }, -1),
	"startupMaxReconnectAttempts": intSetter(func(o *Options) *int { return &o.StartupMaxReconnectAttempts }, -1),
	"warnAfterReconnectAttempts":  intSetter(func(o *Options) *int { return &o.WarnAfterReconnectAttempts }, -1<<31),
	"timeout":                     msSetter(func(o *Options) *time.Duration { return &o.Timeout }, -1),
	"randomize":                   boolSetter(func(o *Options) *bool { return &o.Randomize }),
	"backup":                      boolSetter(func(o *Options) *bool { return &o.Backup }),
	"backupPoolSize":              intSetter(func(o *Options) *int { return &o.BackupPoolSize }, 1),
	"priorityBackup":              boolSetter(func(o *Options) *bool { return &o.PriorityBackup }),
	"priorityURIs":                setPriorityURIs,
	"trackMessages":               boolSetter(func(o *Options) *bool { return &o.TrackMessages }),
	"maxCacheSize":                intSetter(func(o *Options) *int { return &o.MaxCacheSize }, 0),
	"updateURIsSupported":         boolSetter(func(o *Options) *bool { return &o.UpdateURIsSupported }),
	"updateURIsURL":               func(o *Options, v string) error { o.UpdateURIsURL = v; return nil },
	"reconnectJitter":             setReconnectJitter,
	"connectTimeout":              msSetter(func(o *Options) *time.Duration { return &o.ConnectTimeout }, 1),
}

// refusedOptions are names an ActiveMQ user may write that tether does not
// take, with the reason given in the error.
var refusedOptions = map[string]string{
	"backOffMultiplier":         "not a failover: option in ActiveMQ either (it belongs to static:); use reconnectDelayExponent",
	"reconnectDelay":            "an undocumented ActiveMQ setter of internal state; use initialReconnectDelay",
	"trackTransactionProducers": "OpenWire producer replay; tether rolls interrupted transactions back instead",
	"reconnectSupported":        "broker-requested reconnects are OpenWire ConnectionControl; no STOMP/AMQP/MQTT broker sends them",
	"rebalanceUpdateURIs":       "cluster rebalancing is OpenWire ConnectionControl; no STOMP/AMQP/MQTT broker sends it",
}

// apply sets one option by its URI name, strictly: an unknown name or a
// malformed value is an error that names it.
func (o *Options) apply(name, value string) error {
	set, ok := optionSetters[name]
	if !ok {
		return unknownOptionError(name)
	}
	return set(o, value)
}

func unknownOptionError(name string) error {
	if why, ok := refusedOptions[name]; ok {
		return fmt.Errorf("not supported: %s", why)
	}
	if strings.HasPrefix(name, "jms.") {
		return fmt.Errorf("jms.* options configure ActiveMQ's JMS connection factory; use the client package's options")
	}
	for known := range optionSetters {
		if strings.EqualFold(known, name) {
			return fmt.Errorf("unknown option (did you mean %q?)", known)
		}
	}
	return fmt.Errorf("unknown failover option")
}

// check rejects combinations that cannot work.
func (o *Options) check() error {
	if o.UseExponentialBackOff && o.ReconnectDelayExponent < 1 {
		return fmt.Errorf("reconnectDelayExponent %v: must be at least 1", o.ReconnectDelayExponent)
	}
	if o.MaxReconnectDelay < o.InitialReconnectDelay {
		return fmt.Errorf("maxReconnectDelay %v is below initialReconnectDelay %v", o.MaxReconnectDelay, o.InitialReconnectDelay)
	}
	return nil
}

func msSetter(field func(*Options) *time.Duration, min int64) func(*Options, string) error {
	return func(o *Options, v string) error {
		d, err := parseMillis(v, min)
		if err == nil {
			*field(o) = d
		}
		return err
	}
}

func intSetter(field func(*Options) *int, min int) func(*Options, string) error {
	return func(o *Options, v string) error {
		n, err := parseInt(v, min)
		if err == nil {
			*field(o) = n
		}
		return err
	}
}

// parseMillis reads ActiveMQ's duration form: a whole number of milliseconds.
func parseMillis(v string, min int64) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number of milliseconds", v)
	}
	if n < min {
		return 0, fmt.Errorf("%d is below the minimum %d", n, min)
	}
	return time.Duration(n) * time.Millisecond, nil
}

func parseInt(v string, min int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", v)
	}
	if n < min {
		return 0, fmt.Errorf("%d is below the minimum %d", n, min)
	}
	return n, nil
}

func parseFactor(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("%q is not a positive number", v)
	}
	return f, nil
}

func boolSetter(field func(*Options) *bool) func(*Options, string) error {
	return func(o *Options, v string) error {
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		*field(o) = b
		return nil
	}
}

// parseBool accepts only true and false (any case). Java's parseBoolean
// reads every other word as false; a typo should be an error instead.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}

func setReconnectDelayExponent(o *Options, v string) error {
	f, err := parseFactor(v)
	if err == nil {
		o.ReconnectDelayExponent = f
	}
	return err
}

func setReconnectJitter(o *Options, v string) error {
	if b, err := parseBool(v); err == nil {
		o.ReconnectJitter = 0
		if b {
			o.ReconnectJitter = DefaultReconnectJitter
		}
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		return fmt.Errorf("%q is neither true, false nor a factor between 0 and 1", v)
	}
	o.ReconnectJitter = f
	return nil
}

func setPriorityURIs(o *Options, v string) error {
	o.PriorityURIs = nil
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := parseBrokerURI(s)
		if err != nil {
			return err
		}
		o.PriorityURIs = append(o.PriorityURIs, u)
	}
	if len(o.PriorityURIs) == 0 {
		return fmt.Errorf("empty list")
	}
	return nil
}
