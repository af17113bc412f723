package mqtt

import (
	"errors"

	"github.com/tethermq/tether/server/internal/broker"
)

// dropUnauthorized refuses a PUBLISH (or will) to dest that the user may not
// write: MQTT 3.1.1 has no negative PUBACK, and closing the connection would
// cost the client its other work, so the message is dropped, logged, and
// acknowledged as ActiveMQ does (done(nil)). It reports whether it dropped.
func (c *conn) dropUnauthorized(dest broker.Destination, done func(error)) bool {
	err := c.sess.Check(broker.ActionWrite, dest)
	if err == nil {
		return false
	}
	if !errors.Is(err, broker.ErrUnauthorized) {
		done(err)
		return true
	}
	c.log.Warn("MQTT PUBLISH dropped: not authorized", "err", err)
	done(nil)
	return true
}
