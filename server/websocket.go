package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/tethermq/tether/server/internal/broker"
	"github.com/tethermq/tether/server/internal/mqtt"
	"github.com/tethermq/tether/server/internal/stomp"
	"github.com/tethermq/tether/server/internal/wsconn"
)

// WebSocket connector schemes. As in ActiveMQ, ws:// serves STOMP and MQTT
// on one port, picked by the WebSocket subprotocol (v12.stomp, v11.stomp,
// v10.stomp; mqtt, mqttv3.1), a client offering none getting STOMP, on
// any path. stomp+ws:// and mqtt+ws:// serve one protocol only, which then
// also takes clients that offer no subprotocol. The +wss / wss forms are
// the same over TLS.
var webSocketSchemes = map[string]struct{ stomp, mqtt, tls bool }{
	"ws":        {stomp: true, mqtt: true},
	"wss":       {stomp: true, mqtt: true, tls: true},
	"stomp+ws":  {stomp: true},
	"stomp+wss": {stomp: true, tls: true},
	"mqtt+ws":   {mqtt: true},
	"mqtt+wss":  {mqtt: true, tls: true},
}

var (
	stompWS = wsconn.Protocol{Name: "stomp", Subprotocols: []string{"v12.stomp", "v11.stomp", "v10.stomp"}}
	mqttWS  = wsconn.Protocol{Name: "mqtt", Subprotocols: []string{"mqtt", "mqttv3.1"}, BinaryOnly: true}
)

// errWSSNeedsTLS: a wss:// connector without the broker's TLS settings.
var errWSSNeedsTLS = errors.New("wss:// needs sslContext (the broker's TLS key and certificate)")

// webSocketConnector is a WebSocket transport connector: one wsconn.Server
// on the port, feeding the ordinary STOMP and MQTT connectors.
type webSocketConnector struct {
	ws    *wsconn.Server
	stomp *stomp.Server // nil when not served
	mqtt  *mqtt.Server  // nil when not served

	wg   sync.WaitGroup // the protocol connectors' Serve loops
	log  *slog.Logger
	once sync.Once
}

// newWebSocketConnector builds the connector for scheme with the URI's
// options, each of which must be known to at least one of the protocols
// served. tlsCfg is required for the wss forms.
func newWebSocketConnector(b *broker.Broker, scheme string, q url.Values, auth func(user, pass string) error, access *broker.AccessControl, tlsCfg *tls.Config, log *slog.Logger) (*webSocketConnector, error) {
	kind := webSocketSchemes[scheme]
	if kind.tls && tlsCfg == nil {
		return nil, errWSSNeedsTLS
	}
	if !kind.tls {
		tlsCfg = nil
	}
	sq, mq, err := splitWebSocketOptions(q, kind.stomp, kind.mqtt)
	if err != nil {
		return nil, err
	}
	c := &webSocketConnector{log: log}
	var protos []wsconn.Protocol
	if kind.stomp {
		o, err := stomp.ParseOptions(sq)
		if err != nil {
			return nil, err
		}
		o.Authenticate, o.Logger, o.Access = auth, log, access
		c.stomp = stomp.New(b, o)
		p := stompWS
		p.Default = true
		protos = append(protos, p)
	}
	if kind.mqtt {
		o, err := mqtt.ParseOptions(mq)
		if err != nil {
			return nil, err
		}
		o.Authenticate, o.Logger, o.Access = auth, log, access
		c.mqtt = mqtt.New(b, o)
		p := mqttWS
		p.Default = !kind.stomp
		protos = append(protos, p)
	}
	ws, err := wsconn.New(wsconn.Options{Protocols: protos, TLS: tlsCfg, Logger: log})
	if err != nil {
		return nil, err
	}
	c.ws = ws
	return c, nil
}

// splitWebSocketOptions hands each URI option to the protocols that know
// it; one that neither knows is an error, as on the other connectors.
func splitWebSocketOptions(q url.Values, withStomp, withMQTT bool) (sq, mq url.Values, err error) {
	sq, mq = url.Values{}, url.Values{}
	for k, vs := range q {
		one := url.Values{k: vs}
		known := false
		if withStomp {
			if _, err := stomp.ParseOptions(one); err == nil || !isUnknownOption(err) {
				sq[k], known = vs, true
			}
		}
		if withMQTT {
			if _, err := mqtt.ParseOptions(one); err == nil || !isUnknownOption(err) {
				mq[k], known = vs, true
			}
		}
		if !known {
			return nil, nil, fmt.Errorf("unknown WebSocket connector option %q", k)
		}
	}
	return sq, mq, nil
}

// isUnknownOption tells an unknown option from a bad value of a known one
// (which the protocol's own parse then reports).
func isUnknownOption(err error) bool { return strings.Contains(err.Error(), "unknown") }

// Serve runs the protocol connectors on the WebSocket listeners and
// answers HTTP on ln until Close.
func (c *webSocketConnector) Serve(ln net.Listener) error {
	for _, p := range []struct {
		name string
		srv  protocolServer
	}{{"stomp", c.stompServer()}, {"mqtt", c.mqttServer()}} {
		if p.srv == nil {
			continue
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := p.srv.Serve(c.ws.Listener(p.name)); err != nil {
				c.log.Error("WebSocket connector stopped", "protocol", p.name, "err", err)
			}
		}()
	}
	return c.ws.Serve(ln)
}

// stompServer and mqttServer return nil interfaces (not typed nils) for
// protocols not served.
func (c *webSocketConnector) stompServer() protocolServer {
	if c.stomp == nil {
		return nil
	}
	return c.stomp
}

func (c *webSocketConnector) mqttServer() protocolServer {
	if c.mqtt == nil {
		return nil
	}
	return c.mqtt
}

// Close closes the protocol connectors (and so their connections), then
// the WebSocket server, and waits for everything it started.
func (c *webSocketConnector) Close() error {
	c.once.Do(func() {
		if c.stomp != nil {
			c.stomp.Close()
		}
		if c.mqtt != nil {
			c.mqtt.Close()
		}
		c.ws.Close()
		c.wg.Wait()
	})
	return nil
}
