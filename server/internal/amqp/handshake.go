package amqp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tethermq/tether/server/internal/amqp/internal/wire"
	"github.com/tethermq/tether/server/internal/broker"
)

// handshake runs the protocol header exchange, SASL when the client asks
// for it (or the broker requires it), and the open exchange, all under
// HandshakeTimeout. On success the broker session exists and the socket
// has no deadline.
func (c *conn) handshake() error {
	if c.refusal == nil { // a refusal keeps the listener's shorter deadlines
		if err := c.nc.SetDeadline(time.Now().Add(c.srv.opts.HandshakeTimeout)); err != nil {
			return err
		}
	}
	// Server.Close must be able to interrupt a handshake blocked in a read.
	stop := context.AfterFunc(c.srv.ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	hdr, err := wire.ReadProtocolHeader(c.br)
	if err != nil {
		return fmt.Errorf("reading protocol header: %w", err)
	}
	needSASL := c.srv.opts.Authenticate != nil && !c.srv.opts.AllowAnonymous
	switch hdr {
	case wire.HeaderSASL:
		if _, err := c.nc.Write(wire.HeaderSASL[:]); err != nil {
			return err
		}
		if err := c.sasl(); err != nil {
			return err
		}
		if hdr, err = wire.ReadProtocolHeader(c.br); err != nil {
			return fmt.Errorf("reading protocol header after SASL: %w", err)
		}
		if hdr != wire.HeaderAMQP {
			_, _ = c.nc.Write(wire.HeaderAMQP[:])
			return &wire.ProtocolHeaderError{Got: hdr}
		}
	case wire.HeaderAMQP:
		if needSASL {
			// The peer skipped authentication: answer with the header we
			// require and close, as the specification prescribes.
			_, _ = c.nc.Write(wire.HeaderSASL[:])
			return errors.New("client skipped SASL but authentication is required")
		}
	default:
		want := wire.HeaderAMQP
		if needSASL {
			want = wire.HeaderSASL
		}
		_, _ = c.nc.Write(want[:])
		return &wire.ProtocolHeaderError{Got: hdr}
	}
	if _, err := c.nc.Write(wire.HeaderAMQP[:]); err != nil {
		return err
	}
	if err := c.open(); err != nil {
		return err
	}
	c.bs, err = c.srv.b.NewSession(broker.SessionOptions{
		ClientID: c.containerID,
		User:     c.user,
		OnStolen: func() { c.inbox.push(event{stolen: true}) },
		Access:   c.srv.opts.Access,
		Protocol: "amqp", RemoteAddr: c.nc.RemoteAddr().String(),
	})
	if err != nil {
		c.sendClose(errConn(wire.CondInternalError, "%v", err))
		_ = c.flush()
		return err
	}
	return c.nc.SetDeadline(time.Time{})
}

// connectionEstablishmentFailed, true in an open's properties, says that
// a close follows at once and the open's fields mean nothing (the hint
// Qpid JMS reads and Artemis sends when it refuses a connection).
const connectionEstablishmentFailed = "amqp:connection-establishment-failed"

// open reads the peer's open and answers it. A malformed first frame still
// gets an open before the close that reports it, as the specification
// requires a close to follow an open.
func (c *conn) open() error {
	f, err := wire.ReadFrame(c.br, uint32(c.srv.opts.MaxFrameSize))
	var p *wire.Open
	if err == nil {
		var ok bool
		if p, ok = f.Body.(*wire.Open); !ok || f.Type != wire.FrameAMQP {
			err = errConn(wire.CondIllegalState, "first frame is %T, not open", f.Body)
		} else if p.MaxFrameSize < wire.MinMaxFrameSize {
			err = errConn(wire.CondInvalidField, "max-frame-size %d below the minimum 512", p.MaxFrameSize)
		} else if c.refusal != nil {
			err = c.refusal
		}
	}
	props := wire.Map{{Key: wire.Symbol("product"), Value: "tether"}}
	if err != nil {
		props = append(props, wire.MapEntry{Key: wire.Symbol(connectionEstablishmentFailed), Value: true})
	}
	c.write(0, &wire.Open{
		ContainerID:         c.srv.opts.ContainerID,
		MaxFrameSize:        uint32(c.srv.opts.MaxFrameSize),
		ChannelMax:          channelMax,
		IdleTimeout:         uint32(c.srv.opts.IdleTimeout / time.Millisecond),
		OfferedCapabilities: []wire.Symbol{"ANONYMOUS-RELAY"},
		Properties:          props,
	}, nil)
	if err != nil {
		var ce *connError
		var de *wire.DecodeError
		var fse *wire.FrameSizeError
		switch {
		case errors.As(err, &ce):
		case errors.As(err, &de):
			ce = errConn(wire.CondDecodeError, "%v", de)
		case errors.As(err, &fse):
			ce = errConn(wire.CondFramingError, "%v", fse)
		default:
			return fmt.Errorf("reading open: %w", err)
		}
		c.sendClose(ce)
		_ = c.flush()
		return ce
	}
	c.containerID = p.ContainerID
	c.maxFrameOut = int(min(uint64(p.MaxFrameSize), uint64(c.srv.opts.MaxFrameSize)))
	c.peerIdle = time.Duration(p.IdleTimeout) * time.Millisecond
	c.channelMax = min(p.ChannelMax, channelMax)
	return c.flush()
}

// sasl runs the server side of the SASL exchange: advertise mechanisms,
// read the client's init, answer with an outcome.
func (c *conn) sasl() error {
	o := c.srv.opts
	var mechs []wire.Symbol
	if o.Authenticate == nil || o.AllowAnonymous {
		mechs = append(mechs, "ANONYMOUS")
	}
	mechs = append(mechs, "PLAIN")
	c.write(0, &wire.SASLMechanisms{Mechanisms: mechs}, nil)
	if err := c.flush(); err != nil {
		return err
	}
	f, err := wire.ReadFrame(c.br, uint32(o.MaxFrameSize))
	if err != nil {
		var de *wire.DecodeError
		if errors.As(err, &de) {
			c.saslOutcome(wire.SASLSysPerm)
		}
		return fmt.Errorf("reading sasl-init: %w", err)
	}
	init, ok := f.Body.(*wire.SASLInit)
	if !ok {
		c.saslOutcome(wire.SASLSysPerm)
		return fmt.Errorf("expected sasl-init, got %T", f.Body)
	}
	var authErr error
	switch init.Mechanism {
	case "ANONYMOUS":
		if o.Authenticate != nil && !o.AllowAnonymous {
			authErr = errors.New("anonymous access is not allowed")
		}
	case "PLAIN":
		// authzid NUL authcid NUL passwd (RFC 4616).
		parts := bytes.Split(init.InitialResponse, []byte{0})
		if len(parts) != 3 {
			authErr = errors.New("malformed PLAIN response")
			break
		}
		user, pass := string(parts[1]), string(parts[2])
		if o.Authenticate != nil {
			authErr = o.Authenticate(user, pass)
		}
		c.user = user
	default:
		authErr = fmt.Errorf("mechanism %q not offered", init.Mechanism)
	}
	if authErr != nil {
		c.saslOutcome(wire.SASLAuth)
		return fmt.Errorf("authentication failed (user %q): %w", c.user, authErr)
	}
	c.saslOutcome(wire.SASLOK)
	return c.flush()
}

// saslOutcome writes an outcome; a failure's connection is closed next.
func (c *conn) saslOutcome(code uint8) {
	c.write(0, &wire.SASLOutcome{Code: code}, nil)
	if code != wire.SASLOK {
		_ = c.flush()
	}
}
