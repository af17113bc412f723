package server

import (
	"fmt"
	"net/url"

	"github.com/tethermq/tether/server/internal/amqp"
	"github.com/tethermq/tether/server/internal/mqtt"
)

// openExtraProtocol builds the connectors other than STOMP.
func (s *Server) openExtraProtocol(scheme string, tc Connector, q url.Values) (protocolServer, error) {
	log := s.log.With("connector", tc.Name)
	switch scheme {
	case "amqp":
		o, err := amqp.ParseOptions(q)
		if err != nil {
			return nil, fmt.Errorf("connector %s: %w", tc.Name, err)
		}
		o.Authenticate, o.Logger, o.Access = s.authenticator(), log, s.access
		return amqp.New(s.b, o), nil
	case "mqtt":
		o, err := mqtt.ParseOptions(q)
		if err != nil {
			return nil, fmt.Errorf("connector %s: %w", tc.Name, err)
		}
		o.Authenticate, o.Logger, o.Access = s.authenticator(), log, s.access
		return mqtt.New(s.b, o), nil
	}
	if _, ws := webSocketSchemes[scheme]; ws {
		// wss:// serves with the broker's sslContext (and fails to start
		// without one, naming it).
		c, err := newWebSocketConnector(s.b, scheme, q, s.authenticator(), s.access, s.tlsServer, log)
		if err != nil {
			return nil, fmt.Errorf("connector %s: %w", tc.Name, err)
		}
		return c, nil
	}
	return nil, fmt.Errorf("connector %s: %s is not available in this build", tc.Name, scheme)
}
