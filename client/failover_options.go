package client

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Failover and reconnect options in code. Each has the name of its
// failover: URI option (docs/uri.md gives the defaults and meanings) and is
// checked by the same rules, Dial reporting a bad value as an error that
// names the option.
//
// Which wins: the URI. An option set in the connection URI
// (failover:(...)?maxReconnectAttempts=3, or masterslave:'s expansion) is
// the configuration operators see and change, so it overrides the same
// option given in code; options given in code fill in what the URI leaves
// out. Given twice in code, the last one counts.

type failoverSetting struct{ name, value string }

func failoverOption(name, value string) Option {
	return func(c *config) { c.failover = append(c.failover, failoverSetting{name, value}) }
}

func failoverError(name string, err error) Option {
	return func(c *config) { c.fail(fmt.Errorf("tether: option %s: %w", name, err)) }
}

func millisOption(name string, d time.Duration) Option {
	if d%time.Millisecond != 0 {
		return failoverError(name, fmt.Errorf("%v is not a whole number of milliseconds", d))
	}
	return failoverOption(name, strconv.FormatInt(d.Milliseconds(), 10))
}

func boolOption(name string, b bool) Option { return failoverOption(name, strconv.FormatBool(b)) }

func intOption(name string, n int) Option { return failoverOption(name, strconv.Itoa(n)) }

// InitialReconnectDelay is the wait before the first reconnect pass after a
// loss, and the first delay between failed passes (initialReconnectDelay,
// default 10 ms).
func InitialReconnectDelay(d time.Duration) Option {
	return millisOption("initialReconnectDelay", d)
}

// MaxReconnectDelay caps the delay between passes (maxReconnectDelay,
// default 30 s).
func MaxReconnectDelay(d time.Duration) Option { return millisOption("maxReconnectDelay", d) }

// UseExponentialBackOff grows the delay after each failed pass
// (useExponentialBackOff, default true).
func UseExponentialBackOff(b bool) Option { return boolOption("useExponentialBackOff", b) }

// ReconnectDelayExponent is the growth factor of the delay, at least 1
// (reconnectDelayExponent, default 2).
func ReconnectDelayExponent(f float64) Option {
	return failoverOption("reconnectDelayExponent", strconv.FormatFloat(f, 'g', -1, 64))
}

// MaxReconnectAttempts is how many passes over the broker list are made
// before giving up: -1 (the default) forever, 0 one pass at start-up and no
// reconnect after a loss (maxReconnectAttempts).
func MaxReconnectAttempts(n int) Option { return intOption("maxReconnectAttempts", n) }

// StartupMaxReconnectAttempts is the same limit while no connection ever
// succeeded; -1 (the default) takes MaxReconnectAttempts
// (startupMaxReconnectAttempts).
func StartupMaxReconnectAttempts(n int) Option {
	return intOption("startupMaxReconnectAttempts", n)
}

// WarnAfterReconnectAttempts logs a warning every n failed passes; 0 never
// (warnAfterReconnectAttempts, default 10).
func WarnAfterReconnectAttempts(n int) Option {
	return intOption("warnAfterReconnectAttempts", n)
}

// FailoverTimeout bounds how long an operation waits for a connection
// before failing with ErrTimeout; 0 or less waits as long as its context
// allows, the default (the URI's timeout option).
func FailoverTimeout(d time.Duration) Option {
	if d <= 0 {
		return failoverOption("timeout", "-1")
	}
	return millisOption("timeout", d)
}

// Randomize shuffles the broker list before each pass (randomize, default
// true).
func Randomize(b bool) Option { return boolOption("randomize", b) }

// Backup keeps BackupPoolSize handshaken standby connections and switches
// to one at once when the connection is lost (backup, default false).
func Backup(b bool) Option { return boolOption("backup", b) }

// BackupPoolSize is how many standby connections Backup keeps, at least 1
// (backupPoolSize, default 1).
func BackupPoolSize(n int) Option { return intOption("backupPoolSize", n) }

// PriorityBackup keeps probing the priority brokers while connected to
// another one, and moves back when one answers (priorityBackup, default
// false).
func PriorityBackup(b bool) Option { return boolOption("priorityBackup", b) }

// PriorityURIs names the priority brokers (priorityURIs; default: the first
// broker of the list).
func PriorityURIs(uris ...string) Option {
	for _, u := range uris {
		if strings.Contains(u, ",") {
			return failoverError("priorityURIs", fmt.Errorf("%q: one URI per argument", u))
		}
	}
	return failoverOption("priorityURIs", strings.Join(uris, ","))
}

// TrackMessages keeps sends that asked for no confirmation in a cache of
// MaxCacheSize bytes and re-sends them after a reconnect (trackMessages,
// default false).
func TrackMessages(b bool) Option { return boolOption("trackMessages", b) }

// MaxCacheSize is the size of the TrackMessages cache in bytes
// (maxCacheSize, default 131072).
func MaxCacheSize(n int) Option { return intOption("maxCacheSize", n) }

// UpdateURIsSupported adds brokers that a broker advertises to the list
// (updateURIsSupported, default true).
func UpdateURIsSupported(b bool) Option { return boolOption("updateURIsSupported", b) }

// UpdateURIsURL names a file or http(s) URL holding a comma-separated broker
// list, read again before every pass (updateURIsURL).
func UpdateURIsURL(url string) Option { return failoverOption("updateURIsURL", url) }

// ReconnectJitter draws each reconnect delay from delay×[1-f, 1+f]; 0 gives
// exact delays (reconnectJitter, default 0.2).
func ReconnectJitter(f float64) Option {
	return failoverOption("reconnectJitter", strconv.FormatFloat(f, 'g', -1, 64))
}

// ConnectTimeout is the deadline of one connection attempt, TCP connect and
// protocol handshake together (connectTimeout, default 10 s).
func ConnectTimeout(d time.Duration) Option { return millisOption("connectTimeout", d) }
