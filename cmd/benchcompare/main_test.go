package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes the tether binary the process tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if tetherBin != "" {
		_ = os.RemoveAll(filepath.Dir(tetherBin))
	}
	os.Exit(code)
}
