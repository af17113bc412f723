// Package groups owns message-group ordering on both sides of the wire.
//
// On the broker side, [Map] is a queue's group -> consumer ownership table:
// it decides whether a grouped message goes to the group's owner, needs a new
// owner, or must wait, and it keeps memory bounded without ever forgetting a
// group that still has messages in the queue.
//
// On the client side, [Dispatcher] is an ordered worker pool: messages of one
// group are handled one at a time in arrival order, different groups run in
// parallel, and a slow group never holds up the others.
//
// The package imports nothing else from tether: the broker drives a Map under
// its queue's lock, and the SDK feeds a Dispatcher through the small [Message]
// interface. It never touches the network, storage or acknowledgement policy
// beyond calling Message.Ack and Message.Nack.
package groups
