package stomp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/failover/session"
)

// Session is one STOMP connection. It implements session.Session.
//
// Goroutines: the reader (owns r; delivers MESSAGEs, resolves receipts,
// enforces the broker's heart-beat with a read deadline), the writer (owns
// the socket's write side; see writer.go) and, when
// heart-beats are negotiated, the beater (queues an EOL when nothing was
// written for half the interval). All stop when the connection closes;
// fail and Close close it.
type Session struct {
	nc          net.Conn
	r           *frame.Reader
	version     string
	expectEvery time.Duration // the broker's heart-beat interval; 0 = none
	log         *slog.Logger

	// Frames are encoded into queued under qmu in call order and put on
	// the wire by the writer goroutine (writer.go).
	qmu       sync.Mutex
	queued    sink
	enc       *frame.Writer // encodes into queued
	wake      chan struct{} // capacity 1: something was queued
	drained   chan struct{} // closed and replaced each time the writer takes queued
	lastWrite atomic.Int64  // unix nanos of the last write

	mu       sync.Mutex
	receipts map[string]waiter
	subs     map[string]func(*session.Delivery)
	nextID   uint64
	closing  bool // Close was called: the end is not an error

	done     chan struct{}
	err      error // set before done is closed
	failOnce sync.Once
	wg       sync.WaitGroup
}

// waiter is a frame waiting for its RECEIPT.
type waiter struct {
	op string
	ch chan error
}

func start(nc net.Conn, r *frame.Reader, version string, sendEvery, expectEvery time.Duration, log *slog.Logger) *Session {
	s := &Session{
		nc:          nc,
		r:           r,
		wake:        make(chan struct{}, 1),
		drained:     make(chan struct{}),
		version:     version,
		expectEvery: expectEvery,
		log:         log,
		receipts:    map[string]waiter{},
		subs:        map[string]func(*session.Delivery){},
		done:        make(chan struct{}),
	}
	s.enc = frame.NewWriter(&s.queued)
	s.lastWrite.Store(time.Now().UnixNano())
	s.wg.Add(2)
	go s.readLoop()
	go s.writeLoop()
	if sendEvery > 0 {
		s.wg.Add(1)
		go s.beat(sendEvery)
	}
	return s
}

// Done is closed when the connection is gone.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err says why the connection is gone (nil after Close).
func (s *Session) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// fail ends the session because of cause: every waiting confirmation
// resolves with ErrConnectionLost.
func (s *Session) fail(cause error) {
	s.failOnce.Do(func() {
		lostErr := fmt.Errorf("%w: %w", session.ErrConnectionLost, cause)
		s.mu.Lock()
		if !s.closing {
			s.err = lostErr
		}
		waiters := s.receipts
		s.receipts = map[string]waiter{}
		// Closed under mu: request either sees done closed or put its
		// waiter in the map taken above. Closing it after unlocking let a
		// request slip in between and wait for a receipt forever.
		close(s.done)
		s.mu.Unlock()
		_ = s.nc.Close()
		for _, w := range waiters {
			w.ch <- lostErr
		}
	})
}

func (s *Session) lostErr() error {
	if err := s.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%w: session closed", session.ErrConnectionLost)
}

// readLoop reads frames until the connection fails. With heart-beats on,
// every read has a deadline of two broker intervals.
func (s *Session) readLoop() {
	defer s.wg.Done()
	var armed time.Time
	for {
		// Re-arm at most every quarter interval: the deadline stays between
		// 1.75 and 2 intervals after the last data, without a timer reset
		// per frame.
		if now := time.Now(); s.expectEvery > 0 && now.Sub(armed) > s.expectEvery/4 {
			_ = s.nc.SetReadDeadline(now.Add(2 * s.expectEvery))
			armed = now
		}
		f, err := s.r.Read()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				err = fmt.Errorf("no data or heart-beat from the broker for %v: %w", 2*s.expectEvery, err)
			}
			s.fail(err)
			return
		}
		if f == nil {
			continue // heart-beat
		}
		switch f.Command {
		case frame.MESSAGE:
			s.mu.Lock()
			deliver := s.subs[f.Header.Get(frame.Subscription)]
			s.mu.Unlock()
			if deliver != nil {
				deliver(toDelivery(f, s.version))
			}
		case frame.RECEIPT:
			s.resolve(f.Header.Get(frame.ReceiptId), nil)
		case frame.ERROR:
			be := &session.BrokerError{Message: f.Header.Get(frame.Message), Detail: string(f.Body)}
			if id := f.Header.Get(frame.ReceiptId); id != "" {
				s.resolve(id, be)
			}
			// STOMP: the broker closes the connection after an ERROR.
			s.fail(be)
			return
		default:
			s.log.Debug("stomp: ignoring unexpected frame", "command", f.Command)
		}
	}
}

// resolve hands a receipt's outcome to the frame waiting for it.
func (s *Session) resolve(id string, be *session.BrokerError) {
	s.mu.Lock()
	w, ok := s.receipts[id]
	delete(s.receipts, id)
	s.mu.Unlock()
	if !ok {
		return
	}
	if be != nil {
		be.Op = w.op
		w.ch <- be
		return
	}
	w.ch <- nil
}

// beat writes a heart-beat whenever nothing was written for half the
// negotiated interval, so that a broker enforcing it strictly (ActiveMQ
// without a grace multiplier) never sees us late.
func (s *Session) beat(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if time.Since(time.Unix(0, s.lastWrite.Load())) >= every/2 {
				_ = s.write(context.Background(), nil)
			}
		}
	}
}

// request writes f with a fresh receipt header and returns the channel its
// outcome arrives on.
func (s *Session) request(ctx context.Context, f *frame.Frame, op string) (chan error, error) {
	ch := make(chan error, 1)
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		return nil, s.lostErr()
	default:
	}
	s.nextID++
	id := strconv.FormatUint(s.nextID, 10)
	s.receipts[id] = waiter{op: op, ch: ch}
	s.mu.Unlock()
	f.Header.Set(frame.Receipt, id)
	if err := s.write(ctx, f); err != nil {
		s.mu.Lock()
		delete(s.receipts, id)
		s.mu.Unlock()
		return nil, err
	}
	return ch, nil
}

// call writes f and waits for its receipt.
func (s *Session) call(ctx context.Context, f *frame.Frame, op string) error {
	ch, err := s.request(ctx, f, op)
	if err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close sends DISCONNECT, waits for its receipt (so every earlier receipt
// has arrived) until ctx ends, then closes the connection.
func (s *Session) Close(ctx context.Context) error {
	s.mu.Lock()
	already := s.closing
	s.closing = true
	s.mu.Unlock()
	if already {
		<-s.done
		return nil
	}
	var err error
	select {
	case <-s.done:
	default:
		err = s.call(ctx, frame.New(frame.DISCONNECT), "disconnect")
		if errors.Is(err, session.ErrConnectionLost) {
			err = nil // the broker closed first; the goal is reached
		}
	}
	s.fail(errors.New("closed"))
	s.wg.Wait()
	return err
}
