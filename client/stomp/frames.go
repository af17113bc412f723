package stomp

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/failover/session"
)

// ActiveMQ's STOMP header names.
const (
	hdrPersistent    = "persistent"
	hdrPriority      = "priority"
	hdrExpires       = "expires"
	hdrRedelivered   = "redelivered"
	hdrGroupID       = "JMSXGroupID"
	hdrGroupSeq      = "JMSXGroupSeq"
	hdrGroupFirst    = "JMSXGroupFirstForConsumer"
	hdrDeliveryCount = "JMSXDeliveryCount"
	hdrCorrelationID = "correlation-id"
	hdrReplyTo       = "reply-to"
	hdrDuplicateID   = "_AMQ_DUPL_ID"
	hdrPrefetch      = "activemq.prefetchSize"
	hdrExclusive     = "activemq.exclusive"
	hdrConsumerPrio  = "activemq.priority"
	hdrDurableName   = "activemq.subscriptionName"
	hdrSelector      = "selector"
)

// Reserved lists the SEND headers this adapter sets itself; an application
// header with one of these names would be ambiguous, so the client refuses it.
var Reserved = []string{
	frame.Destination, frame.ContentLength, frame.Receipt, frame.Transaction,
	frame.MessageId, frame.Subscription, frame.Ack, hdrPersistent, hdrPriority,
	hdrExpires, hdrGroupID, hdrGroupSeq, hdrCorrelationID, hdrReplyTo, hdrDuplicateID,
}

var reserved = func() map[string]bool {
	m := map[string]bool{}
	for _, h := range Reserved {
		m[h] = true
	}
	return m
}()

// checkHeaders refuses application headers that would collide with the ones
// this adapter writes.
func checkHeaders(h map[string]string) error {
	for k := range h {
		if reserved[k] {
			return fmt.Errorf("stomp: header %q is set by tether itself; use the matching send option", k)
		}
		if k == "" {
			return fmt.Errorf("stomp: empty header name")
		}
	}
	return nil
}

// ackToken is what ACK and NACK need from a MESSAGE.
type ackToken struct{ ack string }

// wireDestination maps queue://X to /queue/X and topic://X to /topic/X.
func wireDestination(d session.Destination) string {
	if d.Kind == session.Topic {
		return "/topic/" + d.Name
	}
	return "/queue/" + d.Name
}

// parseWireDestination is the inverse; any other form is kept whole as a
// queue name so that nothing is lost.
func parseWireDestination(s string) session.Destination {
	if name, ok := strings.CutPrefix(s, "/topic/"); ok {
		return session.Destination{Kind: session.Topic, Name: name}
	}
	if name, ok := strings.CutPrefix(s, "/queue/"); ok {
		return session.Destination{Kind: session.Queue, Name: name}
	}
	return session.Destination{Kind: session.Queue, Name: s}
}

// sendFrame maps an Outgoing to SEND. Standard headers come first: STOMP
// keeps the first of repeated headers.
func sendFrame(m *session.Outgoing) *frame.Frame {
	f := frame.New(frame.SEND,
		frame.Destination, wireDestination(m.Destination),
		frame.ContentLength, strconv.Itoa(len(m.Body)),
	)
	h := f.Header
	if m.Tx != "" {
		h.Add(frame.Transaction, m.Tx)
	}
	if m.Persistent {
		h.Add(hdrPersistent, "true")
	}
	if m.Priority >= 0 {
		h.Add(hdrPriority, strconv.Itoa(m.Priority))
	}
	if !m.Expires.IsZero() {
		h.Add(hdrExpires, strconv.FormatInt(m.Expires.UnixMilli(), 10))
	}
	if m.GroupID != "" {
		h.Add(hdrGroupID, m.GroupID)
	}
	if m.GroupSeq != 0 {
		h.Add(hdrGroupSeq, strconv.Itoa(m.GroupSeq))
	}
	if m.CorrelationID != "" {
		h.Add(hdrCorrelationID, m.CorrelationID)
	}
	if m.ReplyTo != nil {
		h.Add(hdrReplyTo, wireDestination(*m.ReplyTo))
	}
	if m.DuplicateID != "" {
		h.Add(hdrDuplicateID, m.DuplicateID)
	}
	for k, v := range m.Headers {
		h.Add(k, v)
	}
	f.Body = m.Body
	return f
}

// subscribeHeaders are the SUBSCRIBE headers the adapter or a subscription
// option writes; SubscribeSpec.Headers may not set them.
var subscribeHeaders = map[string]bool{
	frame.Id: true, frame.Destination: true, frame.Ack: true, frame.Receipt: true,
	hdrPrefetch: true, hdrSelector: true, hdrExclusive: true, hdrConsumerPrio: true, hdrDurableName: true,
	"durable-subscription-name": true, frame.ContentLength: true,
}

// checkSubscribeHeaders refuses extra headers that would collide with the
// ones subscribeFrame writes.
func checkSubscribeHeaders(h map[string]string) error {
	for k := range h {
		if k == "" {
			return fmt.Errorf("stomp: empty subscription header name")
		}
		if subscribeHeaders[k] {
			return fmt.Errorf("stomp: subscription header %q is set by tether itself; use the matching subscription option", k)
		}
	}
	return nil
}

func subscribeFrame(spec session.SubscribeSpec) *frame.Frame {
	f := frame.New(frame.SUBSCRIBE,
		frame.Id, spec.ID,
		frame.Destination, wireDestination(spec.Destination),
		frame.Ack, ackHeader(spec.Ack),
	)
	h := f.Header
	if spec.Prefetch > 0 {
		h.Add(hdrPrefetch, strconv.Itoa(spec.Prefetch))
	}
	if spec.Selector != "" {
		h.Add(hdrSelector, spec.Selector)
	}
	if spec.Exclusive {
		h.Add(hdrExclusive, "true")
	}
	if spec.Priority >= 0 {
		h.Add(hdrConsumerPrio, strconv.Itoa(spec.Priority))
	}
	if spec.Durable != "" {
		h.Add(hdrDurableName, spec.Durable)
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Headers)) {
		h.Add(k, spec.Headers[k])
	}
	return f
}

func ackHeader(m session.AckMode) string {
	switch m {
	case session.AckClient:
		return frame.AckClient
	case session.AckIndividual:
		return frame.AckClientIndividual
	default:
		return frame.AckAuto
	}
}

// toDelivery maps a MESSAGE frame. Every header is kept in Headers; the
// standard ones are also decoded into their fields, walking the headers
// backwards so that the first of repeated ones wins, as STOMP says.
func toDelivery(f *frame.Frame, version string) *session.Delivery {
	h := f.Header
	n := h.Len()
	d := &session.Delivery{
		Body:     f.Body,
		Headers:  make(session.Headers, 0, 2*n),
		Priority: -1,
	}
	for i := 0; i < n; i++ {
		k, v := h.GetAt(i)
		d.Headers = append(d.Headers, k, v)
	}
	var ack string
	for i := n - 1; i >= 0; i-- {
		k, v := h.GetAt(i)
		switch k {
		case frame.Subscription:
			d.SubscriptionID = v
		case frame.MessageId:
			d.MessageID = v
		case frame.Destination:
			d.Destination = parseWireDestination(v)
		case frame.Ack:
			ack = v
		case hdrRedelivered:
			d.Redelivered = v == "true"
		case hdrPersistent:
			d.Persistent = v == "true"
		case hdrPriority:
			d.Priority = atoiOr(v, -1)
		case hdrExpires:
			d.Expires = time.Time{}
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
				d.Expires = time.UnixMilli(ms)
			}
		case hdrGroupID:
			d.GroupID = v
		case hdrGroupSeq:
			d.GroupSeq = atoiOr(v, 0)
		case hdrGroupFirst:
			d.FirstForConsumer = v == "true"
		case hdrDeliveryCount:
			d.DeliveryCount = atoiOr(v, 0)
		case hdrCorrelationID:
			d.CorrelationID = v
		case hdrReplyTo:
			rt := parseWireDestination(v)
			d.ReplyTo = &rt
		case hdrDuplicateID:
			d.DuplicateID = v
		}
	}
	if version != "1.2" || ack == "" {
		ack = d.MessageID
	}
	d.Token = ackToken{ack: ack}
	return d
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}
