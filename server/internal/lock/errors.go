package lock

import (
	"errors"
	"fmt"
)

// ErrLost is wrapped by every reason Watch reports: a broker that sees it
// must stop writing to the store before anything else.
var ErrLost = errors.New("lock lost")

// The reasons a master loses its lock. Each wraps ErrLost.
var (
	// ErrLockFileRemoved: nothing exists at Dir/lock any more, so a slave
	// could create a new file there and lock it.
	ErrLockFileRemoved = fmt.Errorf("%w: lock file removed", ErrLost)
	// ErrLockFileReplaced: Dir/lock is now a different file from the one
	// locked (deleted and recreated, or renamed over).
	ErrLockFileReplaced = fmt.Errorf("%w: lock file replaced by another file", ErrLost)
	// ErrLockFileUnreachable: Dir/lock cannot be examined (for example an
	// I/O error on a network filesystem), so holding it proves nothing.
	ErrLockFileUnreachable = fmt.Errorf("%w: lock file cannot be checked", ErrLost)
	// ErrNotHeld: this locker does not hold the lock (never acquired,
	// released, or dropped underneath it).
	ErrNotHeld = fmt.Errorf("%w: lock not held", ErrLost)
)
