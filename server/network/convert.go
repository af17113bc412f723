package network

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tethermq/tether/client"
	clientstomp "github.com/tethermq/tether/client/stomp"
	"github.com/tethermq/tether/server/internal/broker"
)

// Headers of the bridge. tether-broker-path is the STOMP connector's
// mapping of Message.BrokerPath; the tether-network-* headers live only on
// outbox copies and are removed before a message leaves.
const (
	hdrBrokerPath      = "tether-broker-path"
	hdrNetworkPrefix   = "tether-network-"
	hdrDest            = hdrNetworkPrefix + "destination" // where the remote gets it
	dupIDForwardPrefix = "tether-net:"
	dupIDPullPrefix    = "tether-pull:"
)

// forwardDupID is the duplicate id a message carries to the remote. It is
// derived from the message's id here, which the store keeps across
// restarts and master changes, and from this store's identity (ids are
// unique per store), so every re-send of the message, by any bridge of this
// broker or its slave, carries the same id and the remote stores it once.
func (b *bridge) forwardDupID(m *broker.Message) string {
	return dupIDForwardPrefix + b.env.Identity + "/" + m.ID
}

// pullDupID is the duplicate id of a message a duplex bridge pulls: the
// remote's message id (kept by its store across its own restarts and
// master changes) and the link, not the remote's name, which may change
// with its master.
func (b *bridge) pullDupID(remoteID string) string {
	return dupIDPullPrefix + b.opts.Name + "." + b.l.key + "/" + remoteID
}

// outboxCopy is what staging puts into the outbox: the message with its
// broker path as it is here, its destination and its duplicate id.
func (b *bridge) outboxCopy(src *broker.Message) *broker.Message {
	h := make([]broker.Header, 0, len(src.Headers)+1)
	h = append(h, src.Headers...)
	h = append(h, broker.Header{Name: hdrDest, Value: src.Dest.String()})
	return &broker.Message{
		Dest: b.outbox, Body: src.Body, Persistent: src.Persistent, Priority: src.Priority,
		Expires: src.Expires, Timestamp: src.Timestamp, CorrelationID: src.CorrelationID,
		ReplyTo: src.ReplyTo, Type: src.Type, ContentType: src.ContentType,
		GroupID: src.GroupID, GroupSeq: src.GroupSeq, DupID: b.forwardDupID(src),
		Headers: h, BrokerPath: src.BrokerPath,
	}
}

func headerValue(m *broker.Message, name string) string {
	v, _ := m.Header(name)
	return v
}

var reservedHeaders = func() map[string]bool {
	m := map[string]bool{}
	for _, h := range clientstomp.Reserved {
		m[h] = true
	}
	return m
}()

// outgoing maps a local message to a send through the SDK: the same
// fields, the application headers, the broker path with this broker
// appended, and the duplicate id.
func (b *bridge) outgoing(m *broker.Message, dupID string) []client.SendOption {
	hdrs := make(map[string]string, len(m.Headers)+3)
	for _, h := range m.Headers {
		if reservedHeaders[h.Name] || h.Name == hdrBrokerPath || strings.HasPrefix(h.Name, hdrNetworkPrefix) {
			continue
		}
		if _, dup := hdrs[h.Name]; !dup {
			hdrs[h.Name] = h.Value // STOMP reads the first of repeated headers
		}
	}
	hdrs[hdrBrokerPath] = strings.Join(append(slices.Clone(m.BrokerPath), b.env.Name), ",")
	if m.Type != "" {
		hdrs["type"] = m.Type
	}
	if m.ContentType != "" {
		hdrs["content-type"] = m.ContentType
	}
	opts := make([]client.SendOption, 0, 8)
	opts = append(opts, client.Headers(hdrs), client.Priority(int(min(m.Priority, 9))), client.DuplicateID(dupID))
	if m.Persistent {
		opts = append(opts, client.Persistent())
	}
	if m.GroupID != "" {
		opts = append(opts, client.Group(m.GroupID))
	}
	if m.GroupSeq != 0 {
		opts = append(opts, client.GroupSeq(int(m.GroupSeq)))
	}
	if m.CorrelationID != "" {
		opts = append(opts, client.CorrelationID(m.CorrelationID))
	}
	if m.Expires > 0 {
		opts = append(opts, client.Expires(time.UnixMilli(m.Expires)))
	}
	if m.ReplyTo != "" {
		if d, err := replyToDestination(m.ReplyTo); err == nil {
			opts = append(opts, client.ReplyTo(d.String()))
		}
	}
	return opts
}

// frameHeaders are the MESSAGE headers the STOMP connector writes for
// message fields and delivery state; everything else is an application
// header.
var frameHeaders = map[string]bool{
	"subscription": true, "message-id": true, "destination": true, "ack": true,
	"redelivered": true, "persistent": true, "priority": true, "expires": true,
	"timestamp": true, "JMSXDeliveryCount": true, "correlation-id": true,
	"reply-to": true, "type": true, "content-type": true, "content-length": true,
	"JMSXGroupID": true, "JMSXGroupSeq": true, "JMSXGroupFirstForConsumer": true,
	"_AMQ_DUPL_ID": true, hdrBrokerPath: true,
}

// fromRemote maps a message pulled from the remote to the local message
// that stores it.
func fromRemote(m *client.Message, dest broker.Destination, dupID string, path []string) *broker.Message {
	lm := &broker.Message{
		Dest: dest, Body: m.Body(), Persistent: m.Persistent(), Priority: broker.DefaultPriority,
		CorrelationID: m.CorrelationID(), ReplyTo: m.Header("reply-to"), Type: m.Header("type"),
		ContentType: m.Header("content-type"), GroupID: m.GroupID(), GroupSeq: int32(m.GroupSeq()),
		DupID: dupID, BrokerPath: path,
	}
	if p := m.Priority(); p >= 0 && p <= 9 {
		lm.Priority = uint8(p)
	}
	if e := m.Expires(); !e.IsZero() {
		lm.Expires = e.UnixMilli()
	}
	if ts, err := strconv.ParseInt(m.Header("timestamp"), 10, 64); err == nil {
		lm.Timestamp = ts
	}
	all := m.Headers()
	for _, k := range slices.Sorted(maps.Keys(all)) {
		if !frameHeaders[k] {
			lm.Headers = append(lm.Headers, broker.Header{Name: k, Value: all[k]})
		}
	}
	return lm
}

// replyToDestination reads a message's reply-to, which the broker keeps as
// its producer wrote it: in the broker's form (queue://X, topic://X, a bare
// queue name) or, from a STOMP producer, /queue/X or /topic/X. The SDK
// takes the broker's form and spells it for the remote's protocol.
func replyToDestination(s string) (broker.Destination, error) {
	if name, ok := strings.CutPrefix(s, "/queue/"); ok {
		return broker.ParseDestination(broker.Destination{Kind: broker.Queue, Name: name}.String())
	}
	if name, ok := strings.CutPrefix(s, "/topic/"); ok {
		return broker.ParseDestination(broker.Destination{Kind: broker.Topic, Name: name}.String())
	}
	return broker.ParseDestination(s)
}
