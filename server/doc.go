/*
Package server runs a reference broker: it opens the store (after taking the
master lock when configured), builds the broker core and starts one protocol
connector per configured transport connector URI.

# The broker API you code against (package `github.com/tethermq/tether/server/broker`, written by the lead; read its source, do not edit it; if you need a change, say so in your report)
- `broker.New(cfg broker.Config, st store.Store) (*broker.Broker, error)`; for tests: `st, _ := store.OpenJournal(t.TempDir(), store.JournalOptions{})` (package `server/store`), `b.Close()` then `st.Close()`.
- `b.NewSession(broker.SessionOptions{ClientID, User, OnStolen func()}) (*broker.Session, error)`: one per client connection; `sess.Close()` when the connection ends (in-flight messages are redelivered).
- `sess.Send(ctx, m *broker.Message, tx string, done func(error))`: `done` is called exactly once, when the message is durable (persistent) or routed; send the protocol's confirmation (PUBACK, disposition) from `done`. It may block for producer flow control, bounded by ctx. Set `m.Dest` (`broker.ParseDestination("queue://x"|"topic://x"|bare)`), `Body`, `Persistent`, `Priority` (default `broker.DefaultPriority`=4), `Expires` (unix ms), `CorrelationID`, `ReplyTo`, `GroupID`, `GroupSeq`, `DupID` (`_AMQ_DUPL_ID`), `Headers []broker.Header{Name,Value}`, `ContentType`, `Type`.
- `sess.Subscribe(broker.ConsumerOptions{Dest, AckMode (broker.AckAuto|AckClient|AckIndividual), Prefetch, Selector, Exclusive, Priority, DurableName, NoLocal}, deliver func(*broker.Delivery)) (*broker.Consumer, error)`. `deliver` is called UNDER the destination's lock: it must not block and must not call back into the broker (queue the delivery for your connection's writer goroutine). Prefetch bounds how many unacked deliveries a consumer has, so a per-connection queue fed by deliver is bounded by the sum of prefetches. In AckAuto mode, call `c.Ack(msgID, "", false, nil)` after you wrote the message to the socket.
- `Delivery{Message *Message, Consumer *Consumer, Redelivered bool, DeliveryCount int, FirstForConsumer bool}`.
- `c.Ack(msgID, tx string, sync bool, done func(error))`, `c.Nack(msgID, done)`, `c.Close()`; `sess.Unsubscribe(durableName)`; `sess.Begin/Commit/Abort`.
- Topic names use `.` separators; wildcards `*` (one segment) and `>` (the rest) work in topic subscriptions.
- Message fields are shared between subscribers: never modify a delivered `*Message`.

# How connectors plug into the server
Shape your connector like this (the lead's STOMP connector has the same shape; the lead wires it into
`server.Start` and `cmd/refbroker` by URI scheme, and the default config will open your port):
```go

	type Options struct {
	    Authenticate func(user, pass string) error // nil = anonymous allowed; returns an error for bad credentials
	    Access *broker.AccessControl              // nil = no authorization; put it in every SessionOptions, map broker.ErrUnauthorized to the protocol's refusal of that one operation
	    MaxConnections int      // 0 = unlimited (URI option maximumConnections)
	    MaxFrameSize   int      // URI option wireFormat.maxFrameSize; protocol default otherwise
	    Logger *slog.Logger
	    // ... protocol-specific knobs, parsed from the URI query by a func ParseOptions(q url.Values) (Options, error) you provide
	}

func New(b *broker.Broker, o Options) *Server
func (s *Server) Serve(ln net.Listener) error   // accept loop; returns nil after Close
func (s *Server) Close() error                  // stop accepting, close every connection (sessions closed -> redelivery), wait for goroutines
```
Every connection goroutine is owned by the Server and stopped by Close; every read has a deadline or a
keep-alive. A malformed frame closes that one connection with the protocol's error and affects nothing else.
*/
package server
