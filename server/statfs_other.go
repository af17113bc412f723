//go:build !unix

package server

import "errors"

func diskAvailable(string) (int64, error) { return 0, errors.ErrUnsupported }
