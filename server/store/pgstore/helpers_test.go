//go:build interop

package pgstore_test

import (
	"testing"

	"github.com/tethermq/tether/internal/testutil"
)

func testutilFreePort(t *testing.T) int { return testutil.FreePort(t) }
