package amqp

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
)

// AMQP message and correlation ids are a ulong, uuid, binary or string;
// the broker keeps them as strings. Non-string ids get a type prefix, and
// strings that happen to start with a prefix are escaped, so that every id
// converts back to the value and type it arrived with (ActiveMQ's
// convention, which STOMP and JMS clients also see).
const (
	idPrefixUlong  = "AMQP_ULONG:"
	idPrefixUUID   = "AMQP_UUID:"
	idPrefixBinary = "AMQP_BINARY:"
	idPrefixString = "AMQP_STRING:"
)

var idPrefixes = []string{idPrefixUlong, idPrefixUUID, idPrefixBinary, idPrefixString}

// idToString converts a decoded id to its string form ("" for none).
func idToString(id any) string {
	switch v := id.(type) {
	case string:
		for _, p := range idPrefixes {
			if strings.HasPrefix(v, p) {
				return idPrefixString + v
			}
		}
		return v
	case uint64:
		return idPrefixUlong + strconv.FormatUint(v, 10)
	case wire.UUID:
		return idPrefixUUID + formatUUID(v)
	case []byte:
		return idPrefixBinary + strings.ToUpper(hex.EncodeToString(v))
	}
	return ""
}

// idFromString converts a string id back; malformed prefixed forms stay
// plain strings.
func idFromString(s string) any {
	switch {
	case strings.HasPrefix(s, idPrefixString):
		return s[len(idPrefixString):]
	case strings.HasPrefix(s, idPrefixUlong):
		if n, err := strconv.ParseUint(s[len(idPrefixUlong):], 10, 64); err == nil {
			return n
		}
	case strings.HasPrefix(s, idPrefixUUID):
		if u, ok := parseUUID(s[len(idPrefixUUID):]); ok {
			return u
		}
	case strings.HasPrefix(s, idPrefixBinary):
		if b, err := hex.DecodeString(s[len(idPrefixBinary):]); err == nil {
			return b
		}
	}
	return s
}

func formatUUID(u wire.UUID) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func parseUUID(s string) (wire.UUID, bool) {
	var u wire.UUID
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 || len(s) != 36 {
		return u, false
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return u, false
	}
	copy(u[:], b)
	return u, true
}
