package stomp

import (
	"context"
	"fmt"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
)

// maxQueuedBytes bounds what callers may queue ahead of the writer; a
// caller that finds more waits (bounded by its context) until the writer
// has drained it, which is how a slow broker pushes back on producers.
const maxQueuedBytes = 512 << 10

// sink is the frame encoder's output: frames are appended to b, which the
// writer goroutine takes whole.
type sink struct{ b []byte }

func (s *sink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// write queues one frame (nil: a heart-beat) for the writer goroutine, in
// call order. Frames queued while the writer is in a write go out together
// in its next one, so a producer with many sends in flight costs one
// syscall per batch rather than one per frame. It waits while more than
// maxQueuedBytes are queued, at most until ctx ends; once queued a frame is
// never cut short, so ctx never leaves half a frame on the wire.
func (s *Session) write(ctx context.Context, f *frame.Frame) error {
	s.qmu.Lock()
	for {
		select {
		case <-s.done:
			s.qmu.Unlock()
			return s.lostErr()
		default:
		}
		if len(s.queued.b) < maxQueuedBytes {
			break
		}
		drained := s.drained
		s.qmu.Unlock()
		select {
		case <-drained:
		case <-s.done:
		case <-ctx.Done():
			return ctx.Err() // nothing queued: the connection is still good
		}
		s.qmu.Lock()
	}
	if err := ctx.Err(); err != nil {
		s.qmu.Unlock()
		return err
	}
	// The encoder writes into s.queued only, which cannot fail.
	_ = s.enc.Write(f)
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // already signalled: the writer will see this frame too
	}
	return nil
}

// writeLoop owns the socket's write side: it writes whatever is queued in
// one call, then looks again, until the session ends. A failed write fails
// the session, which resolves every waiting confirmation.
func (s *Session) writeLoop() {
	defer s.wg.Done()
	var spare []byte
	for {
		select {
		case <-s.wake:
		case <-s.done:
			return
		}
		s.qmu.Lock()
		buf := s.queued.b
		s.queued.b = spare[:0]
		close(s.drained)
		s.drained = make(chan struct{})
		s.qmu.Unlock()
		if len(buf) == 0 {
			spare = buf
			continue
		}
		if _, err := s.nc.Write(buf); err != nil {
			s.fail(fmt.Errorf("write: %w", err))
			return
		}
		s.lastWrite.Store(time.Now().UnixNano())
		if cap(buf) > 4*maxQueuedBytes {
			buf = nil // do not pin a huge buffer after one large message
		}
		spare = buf
	}
}
