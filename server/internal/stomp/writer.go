package stomp

import "github.com/tethermq/tether/server/internal/stomp/internal/wire"

// appendHeader is the codec's, under the name mapping.go has always used.
func appendHeader(buf []byte, k, v string, esc bool) []byte {
	return wire.AppendHeader(buf, k, v, esc)
}
