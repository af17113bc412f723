package amqp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	goamqp "github.com/Azure/go-amqp"
	"github.com/tethermq/tether/failover/session"
)

// connOptions maps the Conn's settings onto go-amqp's.
//
// Heart-beats: AMQP has one knob per side, the idle-time-out each side
// announces in open; the peer then writes something (an empty frame if
// idle) often enough to stay within it. go-amqp drops the connection after
// its IdleTimeout of silence and announces half of it, so IdleTimeout =
// 2 x HeartBeatReceive makes a broker silent for two receive intervals
// dead, as with STOMP. What we send is the broker's call: go-amqp writes
// every half of the idle-time-out the broker announced, whatever
// HeartBeatSend says.
func connOptions(cfg session.Config, o brokerOptions, vhost string) *goamqp.ConnOptions {
	idle := 2 * cfg.HeartBeatReceive
	if o.idleTimeout != nil {
		idle = *o.idleTimeout
	}
	if idle <= 0 {
		idle = -1 // go-amqp: disabled
	}
	opts := &goamqp.ConnOptions{
		ContainerID:  cfg.ClientID,
		HostName:     vhost,
		IdleTimeout:  idle,
		MaxFrameSize: o.maxFrameSize,
		SASLType:     goamqp.SASLTypeAnonymous(),
	}
	if cfg.Login != "" {
		opts.SASLType = goamqp.SASLTypePlain(cfg.Login, cfg.Passcode)
	}
	return opts
}

// handshake runs SASL, Open and Begin on nc, all before ctx ends: a peer
// that accepts TCP and never answers is a failed attempt. nc belongs to the
// returned Session, or is closed on error.
func handshake(ctx context.Context, nc net.Conn, cfg session.Config, opts *goamqp.ConnOptions) (*Session, error) {
	conn, err := goamqp.NewConn(ctx, nc, opts) // go-amqp closes nc on failure
	if err != nil {
		return nil, handshakeErr(ctx, "open", err)
	}
	as, err := conn.NewSession(ctx, nil)
	if err != nil {
		closeQuietly(conn, nc)
		return nil, handshakeErr(ctx, "begin", err)
	}
	logger := cfg.Logger.With("broker", nc.RemoteAddr().String())
	return start(conn, nc, as, logger), nil
}

// handshakeErr says why the handshake failed: the deadline, the broker's
// refusal (a *session.BrokerError, so that the failover engine stops at
// startup instead of retrying bad credentials forever), or anything else.
func handshakeErr(ctx context.Context, step string, err error) error {
	var ne net.Error
	if ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, context.DeadlineExceeded) {
		cause := ctx.Err()
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		return fmt.Errorf("amqp: no %s before the deadline: %w", step, cause)
	}
	var ce *goamqp.ConnError
	if errors.As(err, &ce) && ce.RemoteErr != nil {
		return &session.BrokerError{Op: "connect", Message: string(ce.RemoteErr.Condition), Detail: ce.RemoteErr.Description}
	}
	// go-amqp reports a SASL refusal as an untyped error ("SASL PLAIN auth
	// failed with code 0x1: ..."); its text is all there is to go on.
	if msg := err.Error(); strings.HasPrefix(msg, "SASL") && strings.Contains(msg, "failed") {
		return &session.BrokerError{Op: "connect", Message: "authentication failed", Detail: msg}
	}
	return fmt.Errorf("amqp: %s: %w", step, err)
}

// closeQuietly drops a connection whose handshake failed half-way. Closing
// nc first keeps go-amqp's Close from waiting on a write to a peer that
// does not read.
func closeQuietly(conn *goamqp.Conn, nc net.Conn) {
	_ = nc.SetDeadline(time.Unix(1, 0))
	_ = conn.Close()
}
