//go:build !linux

package lock

import "testing"

// blockedWaiters cannot see the kernel's lock table outside Linux; it claims
// one waiter so that tests fall back to waiting for the slave log line only.
func blockedWaiters(t *testing.T, path string) int { return 1 }
