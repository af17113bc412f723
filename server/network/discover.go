package network

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"
)

// discovery listens on a multicast group and tells its owner when a broker
// appears (its first "alive"), changes address, or goes away (a "dead"
// datagram, or silence for missedBeats keep-alive intervals). It runs on one
// goroutine, so the callbacks are never concurrent.
type discovery struct {
	mc    multicastConfig
	self  string // our broker name: our own announcements are ignored
	conn  *net.UDPConn
	log   *slog.Logger
	peers map[string]*peer // by broker name

	onUp   func(name, service string)
	onDown func(name string)
}

type peer struct {
	service string
	seen    time.Time
}

func listenMulticast(mc multicastConfig, self string, log *slog.Logger) (*discovery, error) {
	conn, err := net.ListenMulticastUDP("udp4", mc.iface, mc.addr)
	if err != nil {
		return nil, err
	}
	return &discovery{mc: mc, self: self, conn: conn, log: log, peers: map[string]*peer{}}, nil
}

// run reads datagrams until ctx ends. Every read has a deadline of one
// keep-alive interval, so silent peers expire even when nothing arrives.
func (d *discovery) run(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { d.conn.Close() })
	defer stop()
	defer d.conn.Close()
	buf := make([]byte, 4096)
	for {
		_ = d.conn.SetReadDeadline(time.Now().Add(d.mc.keepAlive))
		n, _, err := d.conn.ReadFromUDP(buf)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		var ne net.Error
		switch {
		case err == nil:
			d.handle(buf[:n], now)
		case errors.As(err, &ne) && ne.Timeout():
		default:
			d.log.Error("multicast discovery stopped", "err", err)
			return
		}
		d.expire(now)
	}
}

func (d *discovery) handle(b []byte, now time.Time) {
	a, err := decodeAnnouncement(b)
	if err != nil {
		d.log.Debug("ignoring datagram on the discovery group", "err", err)
		return
	}
	if a.group != d.mc.group || a.broker == d.self {
		return
	}
	if err := checkService(a.service); err != nil {
		d.log.Debug("ignoring discovered service", "broker", a.broker, "service", a.service, "err", err)
		return
	}
	p := d.peers[a.broker]
	if !a.alive {
		if p != nil {
			delete(d.peers, a.broker)
			d.log.Info("discovered broker stopped", "broker", a.broker)
			d.onDown(a.broker)
		}
		return
	}
	if p != nil && p.service != a.service {
		// Restarted on another address: replace the bridge.
		delete(d.peers, a.broker)
		d.onDown(a.broker)
		p = nil
	}
	if p == nil {
		d.peers[a.broker] = &peer{service: a.service, seen: now}
		d.log.Info("discovered broker", "broker", a.broker, "service", a.service)
		d.onUp(a.broker, a.service)
		return
	}
	p.seen = now
}

func (d *discovery) expire(now time.Time) {
	limit := missedBeats * d.mc.keepAlive
	for name, p := range d.peers {
		if now.Sub(p.seen) > limit {
			delete(d.peers, name)
			d.log.Warn("discovered broker went silent; dropping its bridge", "broker", name, "silentFor", now.Sub(p.seen).Round(time.Millisecond))
			d.onDown(name)
		}
	}
}
