package stomp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/tethermq/tether/failover/session"
)

// handshake sends CONNECT and waits for CONNECTED, all before ctx ends: a
// peer that accepts TCP and never answers, or answers with something else,
// is a failed attempt.
func handshake(ctx context.Context, nc net.Conn, cfg session.Config, vhost string) (*Session, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	connect := frame.New(frame.CONNECT,
		frame.AcceptVersion, "1.1,1.2",
		frame.Host, vhost,
		frame.HeartBeat, heartBeatHeader(cfg.HeartBeatSend, cfg.HeartBeatReceive),
	)
	if cfg.Login != "" {
		connect.Header.Add(frame.Login, cfg.Login)
		connect.Header.Add(frame.Passcode, cfg.Passcode)
	}
	if cfg.ClientID != "" {
		connect.Header.Add("client-id", cfg.ClientID)
	}
	w := frame.NewWriter(nc)
	r := frame.NewReader(nc)
	if err := w.Write(connect); err != nil {
		return nil, handshakeErr(ctx, err)
	}
	var reply *frame.Frame
	for reply == nil { // skip heart-beats sent before CONNECTED
		f, err := r.Read()
		if err != nil {
			return nil, handshakeErr(ctx, err)
		}
		reply = f
	}
	switch reply.Command {
	case frame.CONNECTED:
	case frame.ERROR:
		return nil, &session.BrokerError{Op: "connect", Message: reply.Header.Get(frame.Message), Detail: string(reply.Body)}
	default:
		return nil, fmt.Errorf("stomp: handshake: broker answered %s instead of CONNECTED", reply.Command)
	}
	version := reply.Header.Get(frame.Version)
	if version != "1.1" && version != "1.2" {
		return nil, fmt.Errorf("stomp: handshake: broker speaks STOMP %q; tether needs 1.1 or 1.2", version)
	}
	sendEvery, expectEvery, err := negotiateHeartBeats(cfg, reply.Header.Get(frame.HeartBeat))
	if err != nil {
		return nil, err
	}
	if !stop() {
		return nil, handshakeErr(ctx, ctx.Err())
	}
	_ = nc.SetDeadline(time.Time{})
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("broker", nc.RemoteAddr().String())
	return start(nc, r, version, sendEvery, expectEvery, logger), nil
}

// handshakeErr says why the handshake failed. The connection's deadline is
// ctx's, and may fire a moment before ctx reports it: a timeout is the
// context's deadline either way.
func handshakeErr(ctx context.Context, err error) error {
	var ne net.Error
	if ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
		cause := ctx.Err()
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		return fmt.Errorf("stomp: no CONNECTED before the deadline: %w", cause)
	}
	return fmt.Errorf("stomp: handshake: %w", err)
}

func heartBeatHeader(send, receive time.Duration) string {
	return strconv.FormatInt(send.Milliseconds(), 10) + "," + strconv.FormatInt(receive.Milliseconds(), 10)
}

// negotiateHeartBeats applies STOMP's rule: each direction runs at the
// larger of what one side offers and the other wants, and not at all if
// either says 0.
func negotiateHeartBeats(cfg session.Config, header string) (sendEvery, expectEvery time.Duration, err error) {
	if header == "" {
		return 0, 0, nil
	}
	sx, sy, err := frame.ParseHeartBeat(header)
	if err != nil {
		return 0, 0, fmt.Errorf("stomp: handshake: bad heart-beat header %q", header)
	}
	if cfg.HeartBeatSend > 0 && sy > 0 {
		sendEvery = max(cfg.HeartBeatSend, sy)
	}
	if cfg.HeartBeatReceive > 0 && sx > 0 {
		expectEvery = max(cfg.HeartBeatReceive, sx)
	}
	return sendEvery, expectEvery, nil
}
