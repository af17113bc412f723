// Package wire is the MQTT 3.1 and 3.1.1 connector's packet reader. Paho's
// packets codec does the field encoding and the writing; this package adds
// what a server needs and paho's ReadPacket lacks: a bound on the
// remaining length checked before any allocation, the fixed-header flag
// rules of MQTT 3.1.1 section 2.2.2, refusal of packet types only servers
// send, and strict decoding (a field that claims more bytes than the
// packet holds, or bytes left over, is malformed rather than silently
// truncated).
//
// Invariants:
//   - Read allocates at most a few KiB beyond the bytes that actually
//     arrived, whatever the remaining length claims, and never returns a
//     packet whose remaining length is over its limit.
//   - Read returns a packet, or an error that is ErrMalformed, ErrTooLarge
//     or the reader's own (io.EOF between packets, io.ErrUnexpectedEOF
//     within one); it never panics, even inside paho's decoders.
//   - A packet Read returns, written by paho, reads back as the same
//     packet, in the same bytes when written again.
package wire
