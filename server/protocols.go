package server

import (
	"fmt"
	"net/url"
)

// openExtraProtocol builds the connectors other than STOMP.
func (s *Server) openExtraProtocol(scheme string, tc Connector, q url.Values) (protocolServer, error) {
	return nil, fmt.Errorf("connector %s: %s is not available in this build", tc.Name, scheme)
}
