package wire

import "fmt"

// DecodeError reports bytes that are not valid AMQP: the peer sent a
// malformed frame, performative or message. The connector answers it with
// the amqp:decode-error condition.
type DecodeError struct {
	What   string // what was being decoded: "list", "open", "message header"...
	Reason string
}

func (e *DecodeError) Error() string {
	return "amqp decode " + e.What + ": " + e.Reason
}

func decodeErr(what, format string, args ...any) *DecodeError {
	return &DecodeError{What: what, Reason: fmt.Sprintf(format, args...)}
}

// FrameSizeError reports a frame larger than the negotiated
// max-frame-size (amqp:connection:framing-error).
type FrameSizeError struct {
	Size, Max uint32
}

func (e *FrameSizeError) Error() string {
	return fmt.Sprintf("amqp frame of %d bytes exceeds the max-frame-size %d", e.Size, e.Max)
}

// ProtocolHeaderError reports a protocol header that is not one this codec
// speaks; Got is what arrived.
type ProtocolHeaderError struct {
	Got [8]byte
}

func (e *ProtocolHeaderError) Error() string {
	return fmt.Sprintf("amqp: unsupported protocol header %q", e.Got[:])
}
