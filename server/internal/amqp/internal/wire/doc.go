// Package wire is the AMQP 1.0 codec of the broker's AMQP connector: the
// type system (OASIS AMQP 1.0 part 1), frames and protocol headers (part 2),
// the transport and SASL performatives (parts 2 and 5) and the message
// sections (part 3). It reads and writes bytes only; what a performative
// means for sessions, links and the broker is the connector's business
// (package server/internal/amqp), and this package never touches a socket.
//
// Invariants:
//   - Decoding never panics and never allocates more than a small constant
//     times the size of its input: every length and element count is checked
//     against the bytes that remain before anything is allocated, every
//     decoded value costs one unit of a budget equal to the input length (so
//     zero-width array elements cannot multiply), and nesting is limited to
//     MaxDepth. The caller bounds the input (a frame is at most the
//     negotiated max-frame-size).
//   - Decoded binary values alias the input; callers give every frame its
//     own buffer and never reuse it.
//   - Encoding is append-only (Append* functions extend a byte slice) and
//     always produces what the decoder accepts; composite values use the
//     compact one-byte-length forms when they fit.
package wire
