// Package wire is the STOMP connector's codec: it reads client frames
// within the limits a broker needs (frame size, header count, strict 1.2
// escaping) and encodes server frames. It knows frames only, not
// connections, sessions or the broker; frames are go-stomp's frame.Frame.
//
// Invariants:
//   - Read never allocates more than the frame size limit for one frame,
//     whatever content-length claims, and returns either a frame of a
//     client command, nil for a heart-beat, or an error; malformed input
//     is ErrBadFrame or ErrFrameTooLarge, never a panic.
//   - A frame Read returns, encoded by AppendFrame with the same escaping,
//     reads back as the same frame (CR and LF in 1.0 header values, which
//     1.0 cannot carry, become spaces).
package wire
