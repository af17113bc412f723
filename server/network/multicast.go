package network

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ActiveMQ's multicast discovery constants (MulticastDiscoveryAgent).
const (
	defaultMulticastAddr = "239.255.2.3:6155"
	defaultGroup         = "default"
	defaultKeepAlive     = 500 * time.Millisecond
	// missedBeats is how many keep-alive intervals a peer may stay silent
	// before it is dropped (10 x 500 ms).
	missedBeats    = 10
	datagramSuffix = ".ActiveMQ-4."
)

// multicastConfig is a parsed multicast://host:port?options URI, used both
// by a transport connector's discoveryUri (to announce) and by a network
// connector (to discover).
type multicastConfig struct {
	addr      *net.UDPAddr
	group     string
	iface     *net.Interface // nil: the system's choice
	ttl       int
	keepAlive time.Duration
}

// parseMulticast reads multicast://default (239.255.2.3:6155) or
// multicast://239.x.y.z:port with the options group (default),
// networkInterface (an interface name), timeToLive (1) and
// keepAliveInterval (500 ms), plus the reconnect options a network
// connector applies to discovered brokers (initialReconnectDelay 5000 ms,
// maxReconnectDelay 30000 ms, useExponentialBackOff true, backOffMultiplier 2).
func parseMulticast(raw string) (multicastConfig, reconnectOptions, error) {
	retry := defaultReconnectOptions()
	retry.InitialReconnectDelay = 5 * time.Second
	mc := multicastConfig{group: defaultGroup, ttl: 1, keepAlive: defaultKeepAlive}
	u, err := url.Parse(raw)
	if err != nil {
		return mc, retry, fmt.Errorf("%q: %w", raw, err)
	}
	if u.Scheme != "multicast" {
		return mc, retry, fmt.Errorf("%q: want multicast://default or multicast://group-address:port", raw)
	}
	hostport := u.Host
	if hostport == "default" || hostport == "" {
		hostport = defaultMulticastAddr
	}
	if mc.addr, err = net.ResolveUDPAddr("udp4", hostport); err != nil {
		return mc, retry, fmt.Errorf("%q: %w", raw, err)
	}
	if !mc.addr.IP.IsMulticast() || mc.addr.Port == 0 {
		return mc, retry, fmt.Errorf("%q: %s is not an IPv4 multicast address with a port", raw, hostport)
	}
	for name, values := range u.Query() {
		v := values[len(values)-1]
		if err := mc.set(name, v, &retry); err != nil {
			return mc, retry, fmt.Errorf("%q: option %s=%q: %w", raw, name, v, err)
		}
	}
	return mc, retry, nil
}

func (mc *multicastConfig) set(name, v string, retry *reconnectOptions) error {
	var err error
	switch name {
	case "group":
		if v == "" || strings.ContainsAny(v, "%") {
			return fmt.Errorf("want a non-empty name without '%%'")
		}
		mc.group = v
	case "networkInterface":
		mc.iface, err = net.InterfaceByName(v)
	case "timeToLive":
		mc.ttl, err = strconv.Atoi(v)
		if err == nil && (mc.ttl < 0 || mc.ttl > 255) {
			err = fmt.Errorf("want 0-255")
		}
	case "keepAliveInterval":
		var ms int
		if ms, err = strconv.Atoi(v); err == nil && ms < 1 {
			err = fmt.Errorf("want at least 1 ms")
		}
		mc.keepAlive = time.Duration(ms) * time.Millisecond
	case "initialReconnectDelay", "maxReconnectDelay", "useExponentialBackOff", "backOffMultiplier":
		return retry.set(name, v)
	default:
		return fmt.Errorf("unknown multicast option (want group, networkInterface, timeToLive, keepAliveInterval, initialReconnectDelay, maxReconnectDelay, useExponentialBackOff, backOffMultiplier)")
	}
	return err
}

// announcement is one discovery datagram, ActiveMQ's format:
//
//	<group>.ActiveMQ-4.alive.%<brokerName>%<serviceURI>
//
// ("dead." instead of "alive." when the broker stops).
type announcement struct {
	group, broker, service string
	alive                  bool
}

func (a announcement) encode() []byte {
	state := "dead."
	if a.alive {
		state = "alive."
	}
	return []byte(a.group + datagramSuffix + state + "%" + a.broker + "%" + a.service)
}

func decodeAnnouncement(b []byte) (announcement, error) {
	s := string(b)
	i := strings.Index(s, datagramSuffix)
	if i <= 0 {
		return announcement{}, fmt.Errorf("not an ActiveMQ discovery datagram")
	}
	a := announcement{group: s[:i]}
	rest := s[i+len(datagramSuffix):]
	switch {
	case strings.HasPrefix(rest, "alive."):
		a.alive, rest = true, rest[len("alive."):]
	case strings.HasPrefix(rest, "dead."):
		rest = rest[len("dead."):]
	default:
		return announcement{}, fmt.Errorf("discovery datagram: neither alive nor dead")
	}
	if !strings.HasPrefix(rest, "%") {
		return announcement{}, fmt.Errorf("discovery datagram: no broker name")
	}
	name, service, ok := strings.Cut(rest[1:], "%")
	if !ok || name == "" || service == "" {
		return announcement{}, fmt.Errorf("discovery datagram: want %%broker%%service")
	}
	a.broker, a.service = name, service
	return a, nil
}
