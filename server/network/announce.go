package network

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
)

// Announcer advertises one transport connector on a multicast group, as a
// transport connector with discoveryUri="multicast://default" does in
// ActiveMQ: an "alive" datagram every keep-alive interval (500 ms), and a
// "dead" one when closed, so that peers drop the bridge at once.
type Announcer struct {
	conn *net.UDPConn
	to   *net.UDPAddr
	msg  announcement
	log  *slog.Logger

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Announce starts advertising service (a tcp:// or stomp:// URI that other
// brokers can dial) under brokerName on the group of discoveryURI.
func Announce(discoveryURI, brokerName, service string, log *slog.Logger) (*Announcer, error) {
	if log == nil {
		log = slog.Default()
	}
	mc, _, err := parseMulticast(discoveryURI)
	if err != nil {
		return nil, fmt.Errorf("discoveryUri: %w", err)
	}
	if err := checkService(service); err != nil {
		return nil, fmt.Errorf("discoveryUri: %w", err)
	}
	conn, err := multicastSender(mc)
	if err != nil {
		return nil, fmt.Errorf("discoveryUri %s: %w", discoveryURI, err)
	}
	a := &Announcer{
		conn: conn, to: mc.addr, log: log,
		msg:  announcement{group: mc.group, broker: brokerName, service: service, alive: true},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go a.run(mc.keepAlive)
	log.Info("announcing on multicast discovery", "service", service, "group", mc.group, "address", mc.addr.String())
	return a, nil
}

// checkService accepts the URIs a bridge can dial: the STOMP-speaking ones.
func checkService(service string) error {
	u, err := url.Parse(service)
	if err != nil {
		return err
	}
	if u.Scheme != "tcp" && u.Scheme != "stomp" {
		return fmt.Errorf("only tcp:// and stomp:// connectors can be announced (bridges speak STOMP), not %s", u.Scheme)
	}
	return nil
}

// multicastSender opens the socket announcements go out on: on the chosen
// interface, with the configured TTL, and with loopback on so that other
// brokers on this machine hear it too.
func multicastSender(mc multicastConfig) (*net.UDPConn, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		return nil, err
	}
	p := ipv4.NewPacketConn(conn)
	if mc.iface != nil {
		if err := p.SetMulticastInterface(mc.iface); err != nil {
			conn.Close()
			return nil, fmt.Errorf("multicast interface %s: %w", mc.iface.Name, err)
		}
	}
	if err := p.SetMulticastTTL(mc.ttl); err != nil {
		conn.Close()
		return nil, fmt.Errorf("multicast TTL: %w", err)
	}
	if err := p.SetMulticastLoopback(true); err != nil {
		conn.Close()
		return nil, fmt.Errorf("multicast loopback: %w", err)
	}
	return conn, nil
}

func (a *Announcer) run(every time.Duration) {
	defer close(a.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		a.send()
		select {
		case <-a.stop:
			a.msg.alive = false
			a.send()
			return
		case <-t.C:
		}
	}
}

func (a *Announcer) send() {
	_ = a.conn.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := a.conn.WriteToUDP(a.msg.encode(), a.to); err != nil {
		a.log.Debug("multicast announcement not sent", "err", err)
	}
}

// Close sends the "dead" announcement and stops.
func (a *Announcer) Close() error {
	a.once.Do(func() {
		close(a.stop)
		<-a.done
		a.conn.Close()
	})
	return nil
}

// CheckDiscoveryURI validates a transport connector's discoveryUri.
func CheckDiscoveryURI(uri string) error {
	_, _, err := parseMulticast(uri)
	return err
}
