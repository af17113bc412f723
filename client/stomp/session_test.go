package stomp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"
	stompserver "github.com/go-stomp/stomp/v3/server"
	"github.com/tethermq/tether/failover/session"
	"github.com/tethermq/tether/internal/testutil"
)

func target(t *testing.T, addr string, cfg session.Config) session.Target {
	t.Helper()
	u, err := url.Parse("stomp://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return session.Target{URI: u, Config: cfg}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// peer serves each accepted connection with handle, a scripted STOMP broker.
func peer(t *testing.T, handle func(r *frame.Reader, w *frame.Writer, c net.Conn)) string {
	t.Helper()
	ln := listen(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(frame.NewReader(c), frame.NewWriter(c), c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func connected(w *frame.Writer, r *frame.Reader, heartBeat string) error {
	if _, err := r.Read(); err != nil {
		return err
	}
	return w.Write(frame.New(frame.CONNECTED, frame.Version, "1.2", frame.HeartBeat, heartBeat))
}

// TestAgainstGoStompServer runs the adapter against a third-party STOMP
// server, go-stomp's own, in process; a go-stomp client reads what the
// adapter sends. (go-stomp's server sends no RECEIPT for SUBSCRIBE, against
// the STOMP spec, so the adapter's Subscribe is exercised against tether's
// broker in the client package instead.)
func TestAgainstGoStompServer(t *testing.T) {
	ln := listen(t)
	srv := &stompserver.Server{HeartBeat: time.Second, Log: quiet{}}
	go srv.Serve(ln)

	reader, err := gostomp.Dial("tcp", ln.Addr().String(), gostomp.ConnOpt.Logger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Disconnect()
	sub, err := reader.Subscribe("/queue/interop", gostomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Dialer{}.Dial(ctx, target(t, ln.Addr().String(), session.Config{HeartBeatSend: time.Second, HeartBeatReceive: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	q := session.Destination{Name: "interop"}
	conf, err := s.Send(ctx, &session.Outgoing{Destination: q, Body: []byte("hello"), Priority: 5, Confirm: true,
		Persistent: true, DuplicateID: "d1", Headers: map[string]string{"k": "v:w"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-conf; err != nil {
		t.Fatalf("receipt: %v", err)
	}
	m := <-sub.C
	if m.Err != nil || string(m.Body) != "hello" || m.Header.Get("k") != "v:w" || m.Header.Get("priority") != "5" ||
		m.Header.Get("_AMQ_DUPL_ID") != "d1" || m.Header.Get("persistent") != "true" {
		t.Errorf("go-stomp read %+v %v", m.Header, m.Err)
	}
	if err := s.Begin(ctx, "tx1"); err != nil {
		t.Fatal(err)
	}
	conf, err = s.Send(ctx, &session.Outgoing{Destination: q, Body: []byte("in tx"), Priority: -1, Tx: "tx1", Confirm: true})
	if err != nil || <-conf != nil {
		t.Fatalf("tx send: %v", err)
	}
	if err := s.Commit(ctx, "tx1"); err != nil {
		t.Fatal(err)
	}
	if m := <-sub.C; m.Err != nil || string(m.Body) != "in tx" {
		t.Errorf("after commit: %q %v", m.Body, m.Err)
	}
	if err := s.Begin(ctx, "tx2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Abort(ctx, "tx2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("close: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done not closed after Close")
	}
	if s.Err() != nil {
		t.Errorf("Err after Close = %v, want nil", s.Err())
	}
}

type quiet struct{}

func (quiet) Debugf(string, ...any)   {}
func (quiet) Infof(string, ...any)    {}
func (quiet) Warningf(string, ...any) {}
func (quiet) Errorf(string, ...any)   {}
func (quiet) Debug(string)            {}
func (quiet) Info(string)             {}
func (quiet) Warning(string)          {}
func (quiet) Error(string)            {}

func TestHandshakeFailures(t *testing.T) {
	tests := []struct {
		name   string
		handle func(r *frame.Reader, w *frame.Writer, c net.Conn)
		check  func(t *testing.T, err error)
	}{
		{"refused", func(r *frame.Reader, w *frame.Writer, c net.Conn) {
			r.Read()
			w.Write(frame.New(frame.ERROR, frame.Message, "bad credentials"))
		}, func(t *testing.T, err error) {
			var be *session.BrokerError
			if !errors.As(err, &be) || be.Op != "connect" || be.Message != "bad credentials" {
				t.Errorf("err = %v", err)
			}
		}},
		{"STOMP 1.0 only", func(r *frame.Reader, w *frame.Writer, c net.Conn) {
			r.Read()
			w.Write(frame.New(frame.CONNECTED))
		}, func(t *testing.T, err error) {
			if err == nil || !strings.Contains(err.Error(), "1.1 or 1.2") {
				t.Errorf("err = %v", err)
			}
		}},
		{"not STOMP", func(r *frame.Reader, w *frame.Writer, c net.Conn) {
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		}, func(t *testing.T, err error) {
			if err == nil {
				t.Error("accepted")
			}
		}},
		{"silent", func(r *frame.Reader, w *frame.Writer, c net.Conn) {
			r.Read()
			r.Read() // wait for the client to give up
		}, func(t *testing.T, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := peer(t, tc.handle)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			s, err := Dialer{}.Dial(ctx, target(t, addr, session.Config{}))
			if err == nil {
				s.Close(ctx)
			}
			tc.check(t, err)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestConnectionLoss: a broker that goes away resolves pending
// confirmations with ErrConnectionLost and closes Done.
func TestConnectionLoss(t *testing.T) {
	sent := make(chan struct{})
	addr := peer(t, func(r *frame.Reader, w *frame.Writer, c net.Conn) {
		if connected(w, r, "0,0") != nil {
			return
		}
		r.Read() // the SEND; no receipt, then hang up
		close(sent)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Dialer{}.Dial(ctx, target(t, addr, session.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := s.Send(ctx, &session.Outgoing{Destination: session.Destination{Name: "q"}, Priority: -1, Confirm: true})
	if err != nil {
		t.Fatal(err)
	}
	<-sent
	if err := <-conf; !errors.Is(err, session.ErrConnectionLost) {
		t.Errorf("confirmation: %v", err)
	}
	<-s.Done()
	if !errors.Is(s.Err(), session.ErrConnectionLost) {
		t.Errorf("Err = %v", s.Err())
	}
	if _, err := s.Send(ctx, &session.Outgoing{Destination: session.Destination{Name: "q"}, Priority: -1}); !errors.Is(err, session.ErrConnectionLost) {
		t.Errorf("send on a dead session: %v", err)
	}
}

// Confirmed operations racing a connection loss all end: none may wait for
// a receipt forever (a send registered while the session was failing once
// did, and hung a consumer's Ack across a broker kill).
func TestConfirmationsRacingConnectionLossAllEnd(t *testing.T) {
	addr := peer(t, func(r *frame.Reader, w *frame.Writer, c net.Conn) {
		if connected(w, r, "0,0") != nil {
			return
		}
		for range 200 {
			if _, err := r.Read(); err != nil {
				return
			}
		}
		// Hang up in the middle of the senders' stream, no receipts given.
	})
	for round := range 30 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := Dialer{}.Dial(ctx, target(t, addr, session.Config{}))
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var confs []session.Confirmation
				for {
					conf, err := s.Send(ctx, &session.Outgoing{Destination: session.Destination{Name: "q"}, Priority: -1, Confirm: true})
					if err != nil {
						break
					}
					confs = append(confs, conf)
				}
				for _, conf := range confs {
					select {
					case <-conf:
					case <-ctx.Done():
						t.Errorf("round %d: a confirmation never resolved after the connection was lost", round)
						return
					}
				}
			}()
		}
		wg.Wait()
		cancel()
		if t.Failed() {
			return
		}
	}
}

// TestErrorFrameRefusesOneFrame: an ERROR naming a receipt fails that frame
// with a *BrokerError; the others waiting lose the connection.
func TestErrorFrameRefusesOneFrame(t *testing.T) {
	addr := peer(t, func(r *frame.Reader, w *frame.Writer, c net.Conn) {
		if connected(w, r, "0,0") != nil {
			return
		}
		var receipts []string
		for len(receipts) < 2 {
			f, err := r.Read()
			if err != nil {
				return
			}
			if f != nil {
				receipts = append(receipts, f.Header.Get(frame.Receipt))
			}
		}
		w.Write(frame.New(frame.ERROR, frame.Message, "no such queue", frame.ReceiptId, receipts[1]))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Dialer{}.Dial(ctx, target(t, addr, session.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	first, _ := s.Send(ctx, &session.Outgoing{Destination: session.Destination{Name: "ok"}, Priority: -1, Confirm: true})
	second, _ := s.Send(ctx, &session.Outgoing{Destination: session.Destination{Name: "bad"}, Priority: -1, Confirm: true})
	var be *session.BrokerError
	if err := <-second; !errors.As(err, &be) || be.Op != "send" || be.Message != "no such queue" {
		t.Errorf("refused frame: %v", err)
	}
	if err := <-first; !errors.Is(err, session.ErrConnectionLost) {
		t.Errorf("other frame: %v", err)
	}
}

// TestHeartBeatsAreSent: with heart-beats negotiated the session writes an
// EOL at least every interval while idle.
func TestHeartBeatsAreSent(t *testing.T) {
	beats := make(chan time.Time, 10)
	addr := peer(t, func(r *frame.Reader, w *frame.Writer, c net.Conn) {
		if connected(w, r, "0,100") != nil {
			return
		}
		for {
			f, err := r.Read()
			if err != nil {
				return
			}
			if f == nil {
				select {
				case beats <- time.Now():
				default:
				}
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Dialer{}.Dial(ctx, target(t, addr, session.Config{HeartBeatSend: 100 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		// The peer never answers DISCONNECT: Close gives up with its context.
		cctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := s.Close(cctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("close: %v", err)
		}
		<-s.Done()
	}()
	prev := <-beats
	for range 3 {
		select {
		case at := <-beats:
			if gap := at.Sub(prev); gap > 150*time.Millisecond {
				t.Errorf("heart-beat gap %v, want at most the 100ms interval (sent every half)", gap)
			}
			prev = at
		case <-ctx.Done():
			t.Fatal("no heart-beats")
		}
	}
}
