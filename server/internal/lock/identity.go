package lock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// checkPath compares the file at Dir/lock with the one this locker locked.
// Identity is device and inode (os.SameFile), never contents or mtime: the
// contents are for humans and anyone may touch the file.
func (l *FileLocker) checkPath(locked os.FileInfo) error {
	cur, err := os.Stat(l.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("lock %s: %w", l.path, ErrLockFileRemoved)
	case err != nil:
		return fmt.Errorf("lock %s: %w: %w", l.path, ErrLockFileUnreachable, err)
	case !os.SameFile(cur, locked):
		return fmt.Errorf("lock %s: %w", l.path, ErrLockFileReplaced)
	}
	return nil
}

// check is the master's fencing test: it still holds a usable descriptor on
// the file that is at Dir/lock.
func (l *FileLocker) check(h *holding) error {
	if !h.fl.Locked() {
		return fmt.Errorf("lock %s: %w", l.path, ErrNotHeld)
	}
	if _, err := h.fl.Stat(); err != nil {
		return fmt.Errorf("lock %s: %w: held descriptor: %w", l.path, ErrNotHeld, err)
	}
	return l.checkPath(h.info)
}
