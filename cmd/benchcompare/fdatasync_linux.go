//go:build linux

package main

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data (and only the metadata needed to read it back),
// as the brokers' journals do.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
