// Package failover keeps a protocol-neutral connection to an ActiveMQ-style
// broker alive across broker restarts and master changes.
//
// It owns:
//   - the URI grammar: failover:(u1,...)?opts, failover:u1,u2, static:(...),
//     masterslave:(...), nested.* options and single broker URIs (Parse);
//   - the options, with ActiveMQ 5.6+ names, defaults and meanings (Options);
//   - the reconnect loop: one attempt is one pass over the broker list, the
//     delay between passes comes from cenkalti/backoff, and a connection
//     counts only once the protocol handshake finished within connectTimeout;
//   - the standby connections of backup=true and the failback of
//     priorityBackup=true;
//   - the state tracker that re-creates subscriptions and re-sends every
//     unconfirmed send (same duplicate id) after a reconnect;
//   - the consumer-side duplicate audit that drops redeliveries of messages
//     whose ack was sent but never confirmed;
//   - events and statistics.
//
// It knows no protocol and no wire format: everything protocol-specific is
// behind session.Dialer and session.Session, implemented by the adapters in
// client/<protocol>. It never parses destinations' wire forms, never reads a
// socket, and never imports an adapter.
package failover
