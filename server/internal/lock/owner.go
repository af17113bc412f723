package lock

import (
	"fmt"
	"os"
	"time"
)

// writeOwner records who holds the lock, for a human looking at the shared
// directory. It writes through a second descriptor (closing it does not drop
// a flock, which belongs to the first) and only after checking that it opened
// the very file this locker holds, so it never truncates someone else's.
func (l *FileLocker) writeOwner(locked os.FileInfo) error {
	f, err := os.OpenFile(l.path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if !os.SameFile(fi, locked) {
		return fmt.Errorf("%s is no longer the locked file", l.path)
	}
	host, _ := os.Hostname()
	body := fmt.Sprintf("pid=%d\nhost=%s\nstarted=%s\nlocked=%s\n",
		os.Getpid(), host, l.startedAt.Format(time.RFC3339Nano), time.Now().Format(time.RFC3339Nano))
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	if _, err := f.WriteAt([]byte(body), 0); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}
