package wire

import (
	"encoding/binary"
	"io"
)

// Frame types (part 2, section 2.3).
const (
	FrameAMQP uint8 = 0x00
	FrameSASL uint8 = 0x01
)

// MinMaxFrameSize is the smallest max-frame-size a peer may impose.
const MinMaxFrameSize = 512

// FrameHeaderSize is the fixed part of every frame.
const FrameHeaderSize = 8

// Protocol headers exchanged before any frame (part 2, section 2.2, and
// part 5, section 5.3.1): "AMQP", a protocol id, and version 1.0.0.
var (
	HeaderAMQP = [8]byte{'A', 'M', 'Q', 'P', 0, 1, 0, 0}
	HeaderSASL = [8]byte{'A', 'M', 'Q', 'P', 3, 1, 0, 0}
	HeaderTLS  = [8]byte{'A', 'M', 'Q', 'P', 2, 1, 0, 0}
)

// ReadProtocolHeader reads the 8-byte protocol header a peer opens with.
func ReadProtocolHeader(r io.Reader) ([8]byte, error) {
	var h [8]byte
	_, err := io.ReadFull(r, h[:])
	return h, err
}

// Frame is one decoded frame. A frame without a body (Body nil) is an
// empty frame, which peers send as a heart-beat.
type Frame struct {
	Type    uint8
	Channel uint16
	Body    Performative
	Payload []byte // message bytes after a transfer
}

// ReadFrame reads and decodes one frame of at most maxSize bytes. The
// frame gets its own buffer, so decoded binary values stay valid. A size
// beyond maxSize is a *FrameSizeError; anything malformed a *DecodeError;
// I/O failures are returned as they are.
func ReadFrame(r io.Reader, maxSize uint32) (*Frame, error) {
	var h [FrameHeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(h[0:4])
	doff := uint32(h[4]) * 4
	if size < FrameHeaderSize {
		return nil, decodeErr("frame", "size %d is below the %d-byte header", size, FrameHeaderSize)
	}
	if size > maxSize {
		return nil, &FrameSizeError{Size: size, Max: maxSize}
	}
	if doff < FrameHeaderSize || doff > size {
		return nil, decodeErr("frame", "data offset %d outside the %d-byte frame", doff, size)
	}
	f := &Frame{Type: h[5], Channel: binary.BigEndian.Uint16(h[6:8])}
	if f.Type != FrameAMQP && f.Type != FrameSASL {
		return nil, decodeErr("frame", "unknown frame type %#x", f.Type)
	}
	buf := make([]byte, size-FrameHeaderSize)
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	body := buf[doff-FrameHeaderSize:] // the extended header is ignored
	if len(body) == 0 {
		if f.Type == FrameSASL {
			return nil, decodeErr("frame", "empty SASL frame")
		}
		return f, nil
	}
	p, payload, err := ParseBody(f.Type, body)
	if err != nil {
		return nil, err
	}
	f.Body, f.Payload = p, payload
	return f, nil
}

// ParseBody decodes a frame body: a performative of the frame's type, then
// (for a transfer only) the payload.
func ParseBody(frameType uint8, body []byte) (Performative, []byte, error) {
	v, n, err := Decode(body)
	if err != nil {
		return nil, nil, err
	}
	d, ok := v.(Described)
	if !ok {
		return nil, nil, decodeErr("frame body", "not a performative: %T", v)
	}
	code, ok := descriptorCode(d.Descriptor)
	if !ok {
		return nil, nil, decodeErr("frame body", "unknown performative %v", d.Descriptor)
	}
	p := newPerformative(code)
	if p == nil {
		return nil, nil, decodeErr("frame body", "unknown performative %#x", code)
	}
	if p.frameType() != frameType {
		return nil, nil, decodeErr("frame body", "performative %#x on a frame of type %d", code, frameType)
	}
	l, err := listOf(d, code, "performative")
	if err != nil {
		return nil, nil, err
	}
	if err := p.decode(l); err != nil {
		return nil, nil, err
	}
	payload := body[n:]
	if _, isTransfer := p.(*Transfer); !isTransfer && len(payload) > 0 {
		return nil, nil, decodeErr("frame body", "%d bytes after a performative that takes no payload", len(payload))
	}
	return p, payload, nil
}

func newPerformative(code uint64) Performative {
	switch code {
	case codeOpen:
		return &Open{}
	case codeBegin:
		return &Begin{}
	case codeAttach:
		return &Attach{}
	case codeFlow:
		return &Flow{}
	case codeTransfer:
		return &Transfer{}
	case codeDisposition:
		return &Disposition{}
	case codeDetach:
		return &Detach{}
	case codeEnd:
		return &End{}
	case codeClose:
		return &Close{}
	case codeSASLMechanisms:
		return &SASLMechanisms{}
	case codeSASLInit:
		return &SASLInit{}
	case codeSASLChallenge:
		return &SASLChallenge{}
	case codeSASLResponse:
		return &SASLResponse{}
	case codeSASLOutcome:
		return &SASLOutcome{}
	}
	return nil
}

// AppendFrame appends a frame carrying p (and payload, for a transfer) on
// channel ch. The caller keeps the result within the peer's max-frame-size.
func AppendFrame(b []byte, ch uint16, p Performative, payload []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 2, p.frameType(), byte(ch>>8), byte(ch))
	b = p.appendTo(b)
	b = append(b, payload...)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// AppendEmptyFrame appends an empty AMQP frame, the heart-beat.
func AppendEmptyFrame(b []byte) []byte {
	return append(b, 0, 0, 0, FrameHeaderSize, 2, FrameAMQP, 0, 0)
}

// AppendPerformative appends only the encoded performative, so a caller can
// learn its size before splitting a payload across frames.
func AppendPerformative(b []byte, p Performative) []byte {
	return p.appendTo(b)
}
