package stomp

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/server/internal/broker"
)

func (c *conn) handle(f *frame.Frame) error {
	if c.log.Enabled(c.ctx, slog.LevelDebug) {
		c.log.Debug("stomp frame", "command", f.Command, "headers", f.Header.Len())
	}
	switch f.Command {
	case frame.SEND:
		return c.onSend(f)
	case frame.SUBSCRIBE:
		return c.onSubscribe(f)
	case frame.UNSUBSCRIBE:
		return c.onUnsubscribe(f)
	case frame.ACK, frame.NACK:
		return c.onAck(f)
	case frame.BEGIN:
		tx, err := txHeader(f)
		if err != nil {
			return err
		}
		if err := c.sess.Begin(tx); err != nil {
			return err
		}
		c.receipt(f, nil)
	case frame.COMMIT:
		tx, err := txHeader(f)
		if err != nil {
			return err
		}
		receipt := f.Header.Get(frame.Receipt)
		c.sess.Commit(tx, func(err error) { c.completed(receipt, "COMMIT", err) })
	case frame.ABORT:
		tx, err := txHeader(f)
		if err != nil {
			return err
		}
		if err := c.sess.Abort(tx); err != nil {
			return err
		}
		c.receipt(f, nil)
	case frame.DISCONNECT:
		// Everything the client sent before DISCONNECT completes first, so
		// the receipt promises that all of it was processed.
		flushed := make(chan struct{})
		c.sess.Flush(func(error) { close(flushed) })
		select {
		case <-flushed:
		case <-c.ctx.Done():
			return errDisconnect
		}
		if receipt := f.Header.Get(frame.Receipt); receipt != "" {
			c.enqueue(outItem{f: frame.New(frame.RECEIPT, frame.ReceiptId, receipt), final: true})
			c.signal()
		}
		return errDisconnect
	case frame.CONNECT, frame.STOMP:
		return errors.New("already connected")
	}
	return nil
}

func txHeader(f *frame.Frame) (string, error) {
	tx := f.Header.Get(frame.Transaction)
	if tx == "" {
		return "", fmt.Errorf("%s: missing transaction header", f.Command)
	}
	return tx, nil
}

// receipt queues a RECEIPT if f asked for one.
func (c *conn) receipt(f *frame.Frame, _ error) {
	if r := f.Header.Get(frame.Receipt); r != "" {
		c.enqueue(outItem{f: frame.New(frame.RECEIPT, frame.ReceiptId, r)})
		c.signal()
	}
}

// completed runs when the broker finished an asynchronous operation: a
// receipt on success, an ERROR (closing the connection) on failure.
func (c *conn) completed(receipt, what string, err error) {
	if errors.Is(err, broker.ErrUnauthorized) {
		c.refuseOp(err, receipt, nil)
		return
	}
	if err != nil {
		c.log.Warn("STOMP operation failed", "op", what, "err", err)
		c.sendError(what+" failed: "+err.Error(), receipt, nil)
		c.shutdown()
		return
	}
	if receipt != "" {
		c.enqueue(outItem{f: frame.New(frame.RECEIPT, frame.ReceiptId, receipt)})
		c.kick(true)
	}
}

func (c *conn) onSend(f *frame.Frame) error {
	m, err := messageFromSend(f)
	if err != nil {
		return err
	}
	receipt := f.Header.Get(frame.Receipt)
	c.sess.Send(c.ctx, m, f.Header.Get(frame.Transaction), func(err error) {
		c.completed(receipt, "SEND", err)
	})
	return nil
}

func (c *conn) onSubscribe(f *frame.Frame) error {
	destHdr := f.Header.Get(frame.Destination)
	if destHdr == "" {
		return errors.New("SUBSCRIBE: missing destination header")
	}
	dest, err := parseDestination(destHdr)
	if err != nil {
		return fmt.Errorf("SUBSCRIBE: %w", err)
	}
	id := f.Header.Get(frame.Id)
	if id == "" {
		if c.version != "1.0" {
			return errors.New("SUBSCRIBE: missing id header")
		}
		id = destHdr
	}
	if _, dup := c.subs[id]; dup {
		return fmt.Errorf("SUBSCRIBE: subscription id %q already in use", id)
	}
	o := broker.ConsumerOptions{Dest: dest, Selector: f.Header.Get("selector")}
	switch a := f.Header.Get(frame.Ack); a {
	case "", frame.AckAuto:
		o.AckMode = broker.AckAuto
	case frame.AckClient:
		o.AckMode = broker.AckClient
	case frame.AckClientIndividual:
		o.AckMode = broker.AckIndividual
	default:
		return fmt.Errorf("SUBSCRIBE: unknown ack mode %q", a)
	}
	if v := f.Header.Get("activemq.prefetchSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("SUBSCRIBE: activemq.prefetchSize=%q: want a positive integer", v)
		}
		o.Prefetch = n
	}
	if v := f.Header.Get("activemq.priority"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < -128 || n > 127 {
			return fmt.Errorf("SUBSCRIBE: activemq.priority=%q: want -128..127", v)
		}
		o.Priority = n
	}
	if v := f.Header.Get(hdrSubNetwork); v != "" {
		// A network bridge subscribing for the brokers listed: their
		// demand, not an application's, in the advisories.
		o.NetworkPath = splitPath(v)
		if len(o.NetworkPath) == 0 {
			return fmt.Errorf("SUBSCRIBE: %s=%q: want a comma-separated broker list", hdrSubNetwork, v)
		}
		o.Filter = networkFilter(dest, o.NetworkPath[0])
	}
	o.Exclusive = f.Header.Get("activemq.exclusive") == "true"
	o.NoLocal = f.Header.Get("activemq.noLocal") == "true"
	o.DurableName = f.Header.Get("activemq.subscriptionName")
	if o.DurableName == "" {
		o.DurableName = f.Header.Get("durable-subscription-name")
	}
	if o.DurableName != "" && dest.Kind != broker.Topic {
		return errors.New("SUBSCRIBE: durable subscriptions are only for topics")
	}
	s := &sub{id: id, dest: destHdr, ack: o.AckMode, holding: true}
	cons, err := c.sess.Subscribe(o, c.deliverFunc(s))
	if err != nil {
		return fmt.Errorf("SUBSCRIBE: %w", err)
	}
	s.c = cons
	c.subs[id] = s
	// The receipt goes out before any MESSAGE of the new subscription.
	c.outMu.Lock()
	if r := f.Header.Get(frame.Receipt); r != "" {
		c.out = append(c.out, outItem{f: frame.New(frame.RECEIPT, frame.ReceiptId, r)})
	}
	c.out = append(c.out, s.held...)
	s.held, s.holding = nil, false
	c.outMu.Unlock()
	c.signal()
	return nil
}

func (c *conn) onUnsubscribe(f *frame.Frame) error {
	id := f.Header.Get(frame.Id)
	if id == "" && c.version == "1.0" {
		id = f.Header.Get(frame.Destination)
	}
	durable := f.Header.Get("activemq.subscriptionName")
	if s := c.subs[id]; s != nil {
		delete(c.subs, id)
		if s.ack == broker.AckAuto {
			c.enqueue(outItem{unsub: &unsubscribe{s: s, durable: durable, receipt: f.Header.Get(frame.Receipt)}})
			c.signal()
			return nil
		}
		s.c.Close()
	} else if durable == "" {
		return fmt.Errorf("UNSUBSCRIBE: no subscription %q", id)
	}
	if durable != "" {
		if err := c.sess.Unsubscribe(durable); err != nil && !errors.Is(err, broker.ErrDurableUnknown) {
			return fmt.Errorf("UNSUBSCRIBE: %w", err)
		}
	}
	c.receipt(f, nil)
	return nil
}

// ackID is what a 1.2 client echoes in ACK/NACK: it names the subscription
// and the message without any per-connection table to clean up.
func ackID(subID, msgID string) string {
	return strconv.Itoa(len(subID)) + ":" + subID + ":" + msgID
}

func parseAckID(s string) (subID, msgID string, ok bool) {
	n, rest, found := strings.Cut(s, ":")
	if !found {
		return "", "", false
	}
	l, err := strconv.Atoi(n)
	if err != nil || l < 0 || l+1 > len(rest) || rest[l] != ':' {
		return "", "", false
	}
	return rest[:l], rest[l+1:], true
}

func (c *conn) onAck(f *frame.Frame) error {
	var subID, msgID string
	if c.version == "1.2" {
		id := f.Header.Get(frame.Id)
		var ok bool
		if subID, msgID, ok = parseAckID(id); !ok {
			return fmt.Errorf("%s: bad id header %q", f.Command, id)
		}
	} else {
		msgID = f.Header.Get(frame.MessageId)
		subID = f.Header.Get(frame.Subscription)
		if msgID == "" {
			return fmt.Errorf("%s: missing message-id header", f.Command)
		}
	}
	s := c.subs[subID]
	if s == nil && subID == "" {
		// STOMP 1.0 acks name only the message: use the connection's only
		// acknowledging subscription.
		for _, x := range c.subs {
			if x.ack != broker.AckAuto {
				if s != nil {
					return fmt.Errorf("%s: subscription header needed with several subscriptions", f.Command)
				}
				s = x
			}
		}
	}
	receipt := f.Header.Get(frame.Receipt)
	if s == nil {
		// The subscription is gone, so its messages were already returned
		// for redelivery: nothing to do, and nothing lost.
		c.completed(receipt, f.Command, nil)
		return nil
	}
	done := func(err error) {
		if errors.Is(err, broker.ErrUnknownMessage) {
			// Already acked, or redelivered after a consumer change: an ack
			// is idempotent for a failover client, not a protocol error.
			err = nil
		}
		c.completed(receipt, f.Command, err)
	}
	if f.Command == frame.NACK {
		s.c.Nack(msgID, done)
		return nil
	}
	s.c.Ack(msgID, f.Header.Get(frame.Transaction), receipt != "", done)
	return nil
}

// networkFilter is the loop prevention of a network bridge's subscription
// made on behalf of broker target (the first broker of its
// tether-network-path). A topic message that already passed through target
// is a copy target published or forwarded itself: sending it back would
// deliver it twice to target's subscribers, so the subscription never gets
// it. A queue message that came from target is different: it went on to
// this broker because its consumers were here, and if they moved to target
// it must be able to go back (the duplex pull); the bridge's demand, not a
// filter, decides when that happens, and hop limits are the bridge's.
func networkFilter(dest broker.Destination, target string) func(*broker.Message) bool {
	if dest.Kind != broker.Topic {
		return nil
	}
	return func(m *broker.Message) bool {
		return !slices.Contains(m.BrokerPath, target)
	}
}
