package mqtt

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/mqtt/internal/wire"
)

// connectMax bounds CONNECT before the client is authenticated: its five
// strings are at most 64 KiB each.
const connectMax = 5*(65535+2) + 16

// handshake reads and answers CONNECT. On success the broker session is
// open, CONNACK and the resumed subscriptions' messages are queued, and the
// writer runs. On failure the refusal (if any) has been written.
func (c *conn) handshake() error {
	c.rd.timeout = c.srv.opts.ConnectTimeout
	pkt, err := wire.Read(c.br, min(connectMax, c.srv.opts.MaxFrameSize))
	if err != nil {
		return fmt.Errorf("reading CONNECT: %w", c.readError(err))
	}
	cp, ok := pkt.(*packets.ConnectPacket)
	if !ok {
		return fmt.Errorf("%w: first packet is %T, not CONNECT", errProtocol, pkt)
	}
	if err := c.checkConnect(cp); err != nil {
		return err
	}
	if auth := c.srv.opts.Authenticate; auth != nil {
		if err := auth(cp.Username, string(cp.Password)); err != nil {
			code := byte(packets.ErrRefusedBadUsernameOrPassword)
			if !cp.UsernameFlag {
				code = packets.ErrRefusedNotAuthorised // no credentials at all
			}
			c.refuse(code)
			return fmt.Errorf("authentication of user %q failed: %w", cp.Username, err)
		}
	}
	c.clientID, c.clean = cp.ClientIdentifier, cp.CleanSession
	c.log = c.log.With("clientID", c.clientID)
	sess, err := c.srv.b.NewSession(broker.SessionOptions{
		ClientID: c.clientID, User: cp.Username, Access: c.srv.opts.Access,
		Protocol: "mqtt", RemoteAddr: c.nc.RemoteAddr().String(),
		// MQTT 3.1.1 section 3.1.4: a second connection with the same client
		// id disconnects the first.
		OnStolen: func() { c.shutdown(errTakenOver) },
	})
	if err != nil {
		c.refuse(packets.ErrRefusedServerUnavailable)
		return fmt.Errorf("opening broker session: %w", err)
	}
	c.sess = sess
	c.state = c.sh.attach(c, c.clientID, c.clean)
	c.mu.Lock() // for Server-wide readers (tests); the writer starts later
	c.flights = c.state.flights
	c.mu.Unlock()
	present, restore, err := c.openSession()
	if err != nil {
		c.refuse(packets.ErrRefusedServerUnavailable)
		return fmt.Errorf("opening MQTT session: %w", err)
	}
	if cp.WillFlag {
		c.will = &will{topic: cp.WillTopic, payload: cp.WillMessage, qos: cp.WillQos, retain: cp.WillRetain}
	}
	ka := time.Duration(cp.Keepalive) * time.Second
	if ka == 0 {
		ka = c.srv.opts.DefaultKeepAlive
	}
	c.rd.timeout = ka * 3 / 2

	ack := packets.NewControlPacket(packets.Connack).(*packets.ConnackPacket)
	// MQTT 3.1's CONNACK has no session-present flag: the byte is reserved.
	ack.SessionPresent = present && cp.ProtocolVersion >= 4
	c.out.push(outItem{pkt: ack})
	// What an earlier connection of this session left unfinished goes
	// first, with its original packet ids [MQTT-4.4.0-1].
	for _, it := range c.flights.resume(c) {
		c.out.push(it)
	}
	// Resumed subscriptions may deliver at once; their messages queue
	// behind CONNACK.
	for _, r := range restore {
		sub, err := c.subscribe(r.filter, r.qos)
		if err != nil {
			c.log.Error("persistent session: subscription not resumed", "filter", r.filter, "err", err)
			continue
		}
		c.subs[r.filter] = sub
	}
	c.writerDone = make(chan struct{})
	go c.writeLoop()
	c.log.Debug("connected", "clean", c.clean, "keepAlive", ka, "sessionPresent", present, "resumed", len(restore))
	return nil
}

// checkConnect applies paho's checks and the ones it lacks, refusing with
// CONNACK where the protocol has a code for it and closing otherwise.
func (c *conn) checkConnect(cp *packets.ConnectPacket) error {
	switch code := cp.Validate(); code {
	case packets.Accepted:
	case packets.ErrProtocolViolation:
		return fmt.Errorf("%w: CONNECT %s", errProtocol, packets.ConnackReturnCodes[code])
	default:
		c.refuse(code)
		return fmt.Errorf("CONNECT refused: %s", packets.ConnackReturnCodes[code])
	}
	if cp.WillFlag {
		if cp.WillQos > 2 {
			return fmt.Errorf("%w: will QoS 3", errProtocol)
		}
		if err := checkTopicName(cp.WillTopic); err != nil {
			return fmt.Errorf("%w: will topic %q: %v", errProtocol, cp.WillTopic, err)
		}
	} else if cp.WillQos != 0 || cp.WillRetain {
		return fmt.Errorf("%w: will QoS or retain without a will", errProtocol)
	}
	// Ill-formed UTF-8, U+0000 included, closes the connection without a
	// CONNACK [MQTT-1.5.3-1, MQTT-1.5.3-2].
	if !wellFormed(cp.ClientIdentifier) {
		return fmt.Errorf("%w: client id is not well-formed UTF-8 (or contains U+0000)", errProtocol)
	}
	if cp.UsernameFlag && !wellFormed(cp.Username) {
		return fmt.Errorf("%w: user name is not well-formed UTF-8 (or contains U+0000)", errProtocol)
	}
	if cp.ProtocolVersion == 3 && cp.ClientIdentifier == "" {
		// MQTT 3.1 requires a client id of 1 to 23 characters; only 3.1.1
		// lets the server assign one. Long ids are accepted, as by
		// ActiveMQ and mosquitto.
		c.refuse(packets.ErrRefusedIDRejected)
		return errors.New("CONNECT refused: MQTT 3.1 client without a client id")
	}
	return nil
}

// wellFormed reports a string MQTT accepts: valid UTF-8 without U+0000.
func wellFormed(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// refuse writes a refusing CONNACK; the caller then closes the connection.
// It runs before the writer exists, so it writes directly.
func (c *conn) refuse(code byte) {
	ack := packets.NewControlPacket(packets.Connack).(*packets.ConnackPacket)
	ack.ReturnCode = code
	w := &timedWriter{nc: c.nc, timeout: c.srv.opts.WriteTimeout}
	if err := ack.Write(w); err != nil {
		c.log.Debug("writing CONNACK refusal", "err", err)
	}
}

// openSession applies cleanSession to the stored session of the client id:
// clean discards it (its durable subscriptions included), persistent
// resumes it, creating its record if it had none so that a later
// reconnect (even after a broker restart) finds the session present.
func (c *conn) openSession() (present bool, restore []subRecord, err error) {
	if c.clientID == "" {
		return false, nil, nil
	}
	var recs []subRecord
	var released []uint16
	m, found := c.sh.sessions.get(c.clientID)
	if found {
		if recs, released, err = decodeRecord(m.Body); err != nil {
			c.log.Error("discarding unreadable session record", "err", err)
			found, recs, released = false, nil, nil
		}
	}
	if !c.clean {
		if !found {
			if err := c.saveRecord(); err != nil {
				return false, nil, err
			}
		}
		// After a broker restart the record is all that is left of the
		// PUBRELs owed; in the same process the state already has them.
		c.flights.restoreReleased(released)
		return found, recs, nil
	}
	if m == nil {
		return false, nil, nil
	}
	for _, r := range recs {
		if r.qos == 0 {
			continue
		}
		if err := c.sess.Unsubscribe(durableName(r.filter)); err != nil && !errors.Is(err, broker.ErrDurableUnknown) {
			return false, nil, fmt.Errorf("discarding subscription %q: %w", r.filter, err)
		}
	}
	if err := wait(c.ctx, func(done func(error)) { c.sh.sessions.remove(c.ctx, c.clientID, done) }); err != nil {
		return false, nil, fmt.Errorf("discarding session record: %w", err)
	}
	return false, nil, nil
}

// saveRecord stores the persistent session's current subscriptions and
// released QoS 2 ids, and waits until they are durable.
func (c *conn) saveRecord() error {
	return c.saveSubs(c.currentSubs())
}

// recordBody encodes the session as it is now. Reader goroutine only.
func (c *conn) recordBody() []byte {
	return encodeRecord(c.currentSubs(), c.flights.releasedIDs())
}

func (c *conn) currentSubs() map[string]byte {
	subs := make(map[string]byte, len(c.subs))
	for f, s := range c.subs {
		subs[f] = s.qos
	}
	return subs
}

func (c *conn) saveSubs(subs map[string]byte) error {
	body := encodeRecord(subs, c.flights.releasedIDs())
	if err := wait(c.ctx, func(done func(error)) { c.sh.sessions.put(c.ctx, c.clientID, body, nil, done) }); err != nil {
		return fmt.Errorf("storing session record: %w", err)
	}
	return nil
}
