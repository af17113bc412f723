package server

import (
	"fmt"
	"net/url"

	"github.com/tethermq/tether/server/amqp"
	"github.com/tethermq/tether/server/mqtt"
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
	return nil, fmt.Errorf("connector %s: %s is not available in this build", tc.Name, scheme)
}
