//go:build !linux

package main

import "os"

// fdatasync falls back to fsync where the system call is not available.
func fdatasync(f *os.File) error { return f.Sync() }
