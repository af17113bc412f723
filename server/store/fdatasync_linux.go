package store

import (
	"os"
	"syscall"
)

// fdatasync flushes a file's data (and the metadata needed to read it back)
// without the timestamp update fsync also forces.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// preallocate reserves size bytes of blocks for f.
func preallocate(f *os.File, size int64) error {
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		return f.Truncate(size)
	}
	return nil
}
