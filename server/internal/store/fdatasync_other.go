//go:build !linux

package store

import (
	"errors"
	"os"
)

func fdatasync(f *os.File) error { return f.Sync() }

func preallocate(f *os.File, size int64) error { return f.Truncate(size) }

// openDirect is Linux only; elsewhere the journal writes through the page
// cache and syncs with fdatasync.
func openDirect(string) (*os.File, error) { return nil, errors.ErrUnsupported }
