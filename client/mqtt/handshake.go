package mqtt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/failover/session"
)

// defaultConnectTimeout bounds CONNECT/CONNACK when ctx has no deadline.
const defaultConnectTimeout = 30 * time.Second

// connect builds the paho client and runs the handshake on a connection
// from open, all before ctx ends.
func connect(ctx context.Context, open func(context.Context) (net.Conn, error), cfg session.Config, o brokerOptions) (*Session, error) {
	wait := defaultConnectTimeout
	if dl, ok := ctx.Deadline(); ok {
		if wait = time.Until(dl); wait <= 0 {
			return nil, fmt.Errorf("mqtt: no CONNACK before the deadline: %w", context.DeadlineExceeded)
		}
	}
	clean := cfg.ClientID == ""
	if o.cleanSession != nil {
		clean = *o.cleanSession
	}
	s := newSession(cfg.Logger, clean)

	// paho opens the connection through this function, so that the dial
	// honours ctx, and keeps it; ctx ending cuts it, which ends a CONNACK
	// read that paho's own deadline would let run on.
	var (
		mu      sync.Mutex
		stopCut func() bool
	)
	opts := paho.NewClientOptions().
		AddBroker("tcp://tether-managed"). // never dialled: open does
		SetCustomOpenConnectionFn(func(*url.URL, paho.ClientOptions) (net.Conn, error) {
			nc, err := open(ctx)
			if err != nil {
				return nil, err
			}
			mu.Lock()
			stopCut = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
			mu.Unlock()
			return nc, nil
		}).
		SetClientID(cfg.ClientID).
		SetCleanSession(clean).
		SetProtocolVersion(4). // explicit: no silent fall back to MQTT 3.1 on a refusal
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetResumeSubs(false).
		SetOrderMatters(true).
		SetAutoAckDisabled(true).
		SetConnectTimeout(wait).
		SetDefaultPublishHandler(s.onMessage).
		SetConnectionLostHandler(func(_ paho.Client, err error) { s.fail(err) })
	keepAlive, pingTimeout := heartBeats(cfg, o)
	opts.SetKeepAlive(keepAlive).SetPingTimeout(pingTimeout)
	if cfg.Login != "" {
		opts.SetUsername(cfg.Login).SetPassword(cfg.Passcode)
	}
	c := paho.NewClient(opts)
	tok := c.Connect()
	<-tok.Done() // bounded: paho's deadline is ctx's, and ctx ending cuts the connection
	mu.Lock()
	cut := stopCut
	mu.Unlock()
	if err := tok.Error(); err != nil {
		if cut != nil {
			cut()
		}
		return nil, handshakeErr(ctx, tok.(*paho.ConnectToken).ReturnCode(), err)
	}
	if cut != nil && !cut() {
		c.Disconnect(0)
		return nil, handshakeErr(ctx, packets.ErrNetworkError, ctx.Err())
	}
	s.start(c)
	return s, nil
}

// heartBeats maps the Conn's heart-beats onto MQTT's keep-alive: the client
// pings whenever nothing was sent or received for the keep-alive (whole
// seconds on the wire), and a broker that does not answer within the ping
// timeout is dead. The broker drops a client silent for 1.5 keep-alives.
func heartBeats(cfg session.Config, o brokerOptions) (keepAlive, pingTimeout time.Duration) {
	keepAlive = max(cfg.HeartBeatSend, cfg.HeartBeatReceive)
	if o.keepAlive != nil {
		keepAlive = *o.keepAlive
	}
	if keepAlive > 0 {
		keepAlive = max(keepAlive.Round(time.Second), time.Second)
	}
	pingTimeout = cfg.HeartBeatReceive
	if pingTimeout <= 0 {
		pingTimeout = max(keepAlive, time.Second)
	}
	return keepAlive, pingTimeout
}

// handshakeErr says why CONNECT failed: the deadline, the broker's refusal
// (a *session.BrokerError, so that the failover engine stops at startup
// instead of retrying bad credentials forever), or anything else.
func handshakeErr(ctx context.Context, rc byte, err error) error {
	if rc != packets.Accepted && rc < packets.ErrNetworkError {
		return &session.BrokerError{Op: "connect", Message: packets.ConnackReturnCodes[rc]}
	}
	var ne net.Error
	if ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
		cause := ctx.Err()
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		return fmt.Errorf("mqtt: no CONNACK before the deadline: %w", cause)
	}
	return fmt.Errorf("mqtt: connect: %w", err)
}
