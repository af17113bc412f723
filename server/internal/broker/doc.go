// Package broker is the reference broker's core: destinations, consumers,
// dispatch with prefetch, acknowledgements, redelivery and the DLQ, message
// groups, transactions, producer flow control and duplicate detection. It
// speaks no wire protocol (connectors in server/internal/stomp, server/internal/amqp and
// server/internal/mqtt translate to Session calls) and knows storage only through
// server/internal/store.
//
// Invariants:
//   - A persistent message is written to the store (fsync) before it is
//     visible to any consumer and before its sender's done callback runs;
//     its duplicate-detection id is written in the same batch.
//   - Store writes go through one committer goroutine that groups concurrent
//     writes into one fsync and completes them in submission order, so a
//     session's pipelined sends keep their order. Connectors may ask
//     (Broker.AfterCommitBatch) to have what a batch's callbacks queued
//     written from the committer once the batch is complete: after an
//     fsync, a hand-off to a writer goroutine is a cross-CPU wake-up on the
//     path of every producer waiting for its receipt. Writes nobody waits
//     on (auto-ack deletes) join the held writes without waking it.
//   - Every entry is in exactly one place: pending in its queue, in flight at
//     one consumer, or gone (its store key deleted in the batch that removed
//     it, DLQ moves included). A persistent message may also be on disk only
//     (its queue's spool, spool.go), until a page-in makes it an entry.
//   - A message is in flight at one consumer at a time, and a consumer
//     holds at most its prefetch of unsettled messages. An acked message is
//     never delivered again; one nacked, or held by a consumer that closes
//     (its session's close included), returns to its place in the queue
//     and is delivered again with its delivery count grown and flagged
//     redelivered, until MaxRedeliveries sends it to the DLQ.
//   - A message group's messages are delivered in the order they were
//     sent, to one consumer at a time: a group's next message goes out
//     only when every earlier one is acked or in flight at that consumer.
//   - A consumer's deliver callback is never called after its Close (or
//     its session's) returned.
//   - Memory holds a bounded window of each queue's persistent messages;
//     the rest is known by store order alone and read back as consumers
//     drain, so memoryLimit bounds memory, not the backlog (storeUsage, in
//     space.go, bounds the disk).
//   - Lock order: a queue's mutex may be held while taking the broker's
//     mutex, the committer's or the memory limiter's, never the reverse.
//     Consumer delivery callbacks run under the queue mutex and must not
//     block or re-enter the broker.
package broker
