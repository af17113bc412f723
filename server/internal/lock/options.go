package lock

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// FileName is the name of the lock file inside the data directory, as in ActiveMQ.
const FileName = "lock"

// DefaultKeepAlivePeriod is how often a master re-checks its lock unless
// Options.KeepAlivePeriod says otherwise. ActiveMQ's KahaDB default is 0
// (never), which its own documentation says can corrupt the store.
const DefaultKeepAlivePeriod = time.Second

// Options configures a FileLocker. Names follow ActiveMQ's locker attributes.
type Options struct {
	// Dir is the data directory; the lock file is Dir/lock and is created if
	// missing. Dir itself must exist.
	Dir string
	// KeepAlivePeriod is ActiveMQ's lockKeepAlivePeriod: how often Watch
	// re-checks the lock. Zero means DefaultKeepAlivePeriod. Fencing cannot
	// be turned off.
	KeepAlivePeriod time.Duration
	// AcquireSleepInterval is ActiveMQ's lockAcquireSleepInterval. Zero (the
	// default) waits in a blocking flock and takes over the instant the
	// holder releases or dies. A positive value polls with a non-blocking
	// flock at that interval instead, for filesystems whose blocking locks
	// misbehave; takeover then lags by up to one interval.
	AcquireSleepInterval time.Duration
	// StartedAt is the broker's start time, written into the lock file for
	// humans. Zero means the time NewFileLocker was called.
	StartedAt time.Time
	// Logger receives the slave-mode, takeover and loss messages. Nil means
	// slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("lock: Options.Dir is empty")
	}
	fi, err := os.Stat(o.Dir)
	if err != nil {
		return o, fmt.Errorf("lock: data directory: %w", err)
	}
	if !fi.IsDir() {
		return o, fmt.Errorf("lock: data directory %s is not a directory", o.Dir)
	}
	if o.KeepAlivePeriod < 0 {
		return o, fmt.Errorf("lock: KeepAlivePeriod %v is negative", o.KeepAlivePeriod)
	}
	if o.AcquireSleepInterval < 0 {
		return o, fmt.Errorf("lock: AcquireSleepInterval %v is negative", o.AcquireSleepInterval)
	}
	if o.KeepAlivePeriod == 0 {
		o.KeepAlivePeriod = DefaultKeepAlivePeriod
	}
	if o.StartedAt.IsZero() {
		o.StartedAt = time.Now()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}
