package stomp

import (
	"errors"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/server/internal/broker"
)

// refuseOp answers a SEND or SUBSCRIBE that authorization refused with an
// ERROR naming the user, the action and the destination, and keeps the
// connection open, as ActiveMQ does: one refused operation must not cost a
// client its other subscriptions (STOMP 1.2 would have the server close
// after every ERROR; ActiveMQ and tether do not, for this case only).
func (c *conn) refuseOp(err error, receipt string, cause *frame.Frame) {
	c.log.Info("STOMP operation not authorized", "err", err)
	f := frame.New(frame.ERROR, frame.Message, err.Error())
	var ue *broker.UnauthorizedError
	if errors.As(err, &ue) {
		f.Header.Add(frame.Destination, wireDestination(ue.Dest))
	}
	if receipt != "" {
		f.Header.Add(frame.ReceiptId, receipt)
	}
	f.Header.Add(frame.ContentType, "text/plain")
	f.Body = []byte(err.Error() + "\n")
	if cause != nil {
		f.Body = append(f.Body, "The offending frame was "+cause.Command+"\n"...)
	}
	c.enqueue(outItem{f: f})
	c.signal()
}
