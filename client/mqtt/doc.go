// Package mqtt is tether's MQTT 3.1.1 protocol adapter: it implements
// session.Dialer and session.Session over github.com/eclipse/paho.mqtt.golang,
// for tether's broker, ActiveMQ's MQTT connector and any MQTT 3.1.1 broker
// (mosquitto, ...).
//
// It owns one paho client per Session, connected once: paho's own
// reconnect, connect retry and subscription resume are off, because the
// failover engine owns reconnection. It maps tether's values onto MQTT:
//
//	topic://a.b.c          topic a/b/c ('*' is '+', '>' is '#', each pair swaps)
//	Persistent or Confirm  QoS 1; otherwise QoS 0
//	Confirm                the Confirmation resolves at PUBACK
//	subscriptions          QoS 1; AckAuto acks on arrival, AckIndividual and
//	                       AckClient (cumulative) send PUBACK when acked
//	client id              the Conn's client id; with one the session is
//	                       persistent (cleanSession=false), so the broker keeps
//	                       subscriptions and unacked messages while away
//
// The failover contract over MQTT is at-least-once: MQTT 3.1.1 messages
// carry no headers, so there is no duplicate id for the broker to drop a
// re-sent message by and no message id for the SDK to drop a redelivery
// by. A send re-sent after failover, or a message whose PUBACK was lost,
// can arrive twice. (A Delivery's MessageID is assigned here, unique per
// delivery, so that the failover engine never mistakes two deliveries for
// one; a redelivery gets a new one.)
//
// What MQTT 3.1.1 cannot express is refused with a *session.UnsupportedError,
// never dropped: queue destinations, headers, message groups, priority,
// expiry, correlation id, reply-to, selectors, exclusive consumers, consumer
// priority, prefetch, Nack, transactions, and two subscriptions of one
// session whose filters overlap (a message cannot be told apart between
// them). The duplicate id the failover engine puts on every send is not
// refused but has nowhere to go, and is not sent.
//
// It never reconnects, retries or remembers anything beyond its one
// connection: that is the failover package's job.
package mqtt
