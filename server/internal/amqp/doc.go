// Package amqp is the reference broker's AMQP 1.0 connector
// (amqp://0.0.0.0:5672): it accepts connections, runs SASL (ANONYMOUS, and
// PLAIN against Options.Authenticate), and maps sessions and links onto
// broker sessions and consumers, following ActiveMQ's AMQP conventions
// (addresses queue://X and topic://X, a bare name being a queue; link
// credit as prefetch; durable = persistent). The wire codec lives in
// internal/wire; this package owns the protocol state machine and the
// mapping between AMQP messages and broker.Message, and never touches the
// store.
//
// Invariants:
//   - One goroutine (the connection's loop) owns all session and link state
//     and is the only writer to the socket. The reader goroutine only
//     decodes frames; the producer goroutine only calls the broker's
//     blocking Send. The broker reaches the loop through a non-blocking
//     inbox, because it delivers with a destination's lock held.
//   - The loop never holds a lock while calling the broker, so the broker's
//     locks and the inbox's never nest the other way round.
//   - An unsettled transfer from a producer is answered with Accepted only
//     after the broker's Send completed: for a persistent message, after it
//     is on disk.
//   - Every read has a deadline: HandshakeTimeout until open is exchanged,
//     IdleTimeout afterwards; every write has WriteTimeout. A peer that
//     stays silent past IdleTimeout is closed with
//     amqp:resource-limit-exceeded.
//   - A malformed frame closes only its own connection, with
//     amqp:decode-error (amqp:connection:framing-error for a frame beyond
//     max-frame-size); a malformed message inside well-formed frames is
//     only Rejected.
//   - What a connection buffers is bounded: frames by max-frame-size, a
//     message by MaxMessageSize, unconfirmed sends by ProducerCredit per
//     link, deliveries by each consumer's prefetch.
//
// Mapping choices other protocols' connectors should know (the full tables
// are in docs/amqp.md; details in convert_in.go, convert_out.go,
// passthrough.go and session.settle):
//   - The container-id is the broker client id: a second connection with
//     the same container-id takes the first one's place (link stealing).
//   - AMQP to AMQP the bare message is passed through unchanged, byte for
//     byte (broker.Message.AMQP); the broker's additions are only in the
//     header and the message annotations.
//   - For the other protocols, application-property values are stored as
//     text (typed values in their text form; nulls and decimals omitted);
//     _AMQ_DUPL_ID becomes Message.DupID. The producer's message-id is
//     kept in the header JMS_AMQP_MESSAGE_ID (the broker assigns
//     Message.ID), and a body that was not data sections is marked with
//     the header amq-msg-type ("text" for an amqp-value string, whose
//     UTF-8 bytes are the body).
//   - Accepted acknowledges. Released and Modified return the message
//     (Modified with delivery-failed counted, reaching the DLQ after
//     MaxRedeliveries); Rejected and Modified with undeliverable-here
//     dead-letter it at once.
//   - A durable (non-zero durability), never-expiring source on a topic is
//     a durable subscription named after the link; detaching it with
//     closed=true deletes it.
//   - Dynamic sources and targets are temporary queues (broker/temp.go),
//     deleted when their link or connection ends; a queue source with
//     distribution-mode copy is a browser (Session.Browse); the
//     coordinator link runs local transactions on the broker session's
//     transactions (coordinator.go).
//
// Not supported: distributed transactions and transactional acquisition,
// and resuming links with unsettled state.
package amqp
