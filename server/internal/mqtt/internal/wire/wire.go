package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// ErrMalformed marks input that breaks the protocol; the connection closes.
var ErrMalformed = errors.New("malformed packet")

// ErrTooLarge is a packet beyond the size limit given to Read.
var ErrTooLarge = errors.New("packet exceeds the maximum frame size")

// Read reads one client-to-server packet of at most max bytes of remaining
// length. A truncated packet is io.ErrUnexpectedEOF; io.EOF means the
// stream ended between packets.
func Read(r *bufio.Reader, max int) (packets.ControlPacket, error) {
	first, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	n, err := readRemainingLength(r)
	if err != nil {
		return nil, err
	}
	fh := packets.FixedHeader{
		MessageType:     first >> 4,
		Dup:             first&0x08 != 0,
		Qos:             (first >> 1) & 0x03,
		Retain:          first&0x01 != 0,
		RemainingLength: n,
	}
	if err := checkFixedHeader(first); err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("%w: %s of %d bytes, limit %d", ErrTooLarge, packets.PacketNames[fh.MessageType], n, max)
	}
	body, err := readBody(r, n)
	if err != nil {
		return nil, err
	}
	cp, err := packets.NewControlPacketWithHeader(fh)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	er := &exactReader{b: body}
	if err := cp.Unpack(er); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, packets.PacketNames[fh.MessageType], err)
	}
	if len(er.b) != 0 {
		return nil, fmt.Errorf("%w: %s: %d trailing bytes", ErrMalformed, packets.PacketNames[fh.MessageType], len(er.b))
	}
	return cp, nil
}

// readRemainingLength decodes the variable-length integer of the fixed
// header: seven bits per byte, at most four bytes.
func readRemainingLength(r io.ByteReader) (int, error) {
	n, shift := 0, 0
	for i := 0; i < 4; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			return n, nil
		}
		shift += 7
	}
	return 0, fmt.Errorf("%w: remaining length longer than four bytes", ErrMalformed)
}

// readBody reads n bytes. Small bodies get one allocation; large ones grow
// as bytes actually arrive, so announcing a huge length costs the sender
// the bytes, not us the memory.
func readBody(r io.Reader, n int) ([]byte, error) {
	const direct = 64 << 10
	if n <= direct {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, eofIsUnexpected(err)
		}
		return b, nil
	}
	var buf bytes.Buffer
	buf.Grow(direct)
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		return nil, eofIsUnexpected(err)
	}
	return buf.Bytes(), nil
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// checkFixedHeader applies the per-type flag rules and refuses packets only
// a server sends.
func checkFixedHeader(first byte) error {
	typ, flags := first>>4, first&0x0f
	switch typ {
	case packets.Publish:
		if (flags>>1)&0x03 == 3 {
			return fmt.Errorf("%w: PUBLISH with QoS 3", ErrMalformed)
		}
		return nil
	case packets.Pubrel, packets.Subscribe, packets.Unsubscribe:
		if flags != 0x02 {
			return fmt.Errorf("%w: %s flags %#x, want 0x2", ErrMalformed, packets.PacketNames[typ], flags)
		}
		return nil
	case packets.Connect, packets.Puback, packets.Pubrec, packets.Pubcomp, packets.Pingreq, packets.Disconnect:
		if flags != 0 {
			return fmt.Errorf("%w: %s flags %#x, want 0", ErrMalformed, packets.PacketNames[typ], flags)
		}
		return nil
	}
	return fmt.Errorf("%w: packet type %d is not sent by clients", ErrMalformed, typ)
}

// exactReader serves paho's decoders, which read each field with one Read
// of the field's size: a Read that cannot be filled completely is an error
// instead of a short, silently truncated field.
type exactReader struct{ b []byte }

func (e *exactReader) Read(p []byte) (int, error) {
	if len(p) > len(e.b) {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, e.b)
	e.b = e.b[n:]
	return n, nil
}
