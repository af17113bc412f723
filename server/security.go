package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tethermq/tether/server/auth"
	"github.com/tethermq/tether/server/internal/broker"
)

// AuthorizationEntry is one of activemq.xml's authorizationEntries: a queue
// or a topic pattern (exactly one) with the groups that may read (consume),
// write (send) and admin (create) the destinations it matches. Group lists
// are "a,b" or [a, b]; "everyone" (or "*") is every user.
type AuthorizationEntry struct {
	Queue string      `yaml:"queue"`
	Topic string      `yaml:"topic"`
	Read  auth.Groups `yaml:"read"`
	Write auth.Groups `yaml:"write"`
	Admin auth.Groups `yaml:"admin"`
}

// SSLContext is the broker's TLS identity (activemq.xml's sslContext, with
// PEM files instead of Java key stores).
type SSLContext struct {
	CertFile string `yaml:"certFile"` // PEM certificate chain, the broker's first
	KeyFile  string `yaml:"keyFile"`  // PEM private key of the certificate
	// CAFile (optional) holds the PEM certificates that client certificates
	// must chain to, and that network bridges trust in remote brokers
	// (the system's roots when empty).
	CAFile string `yaml:"caFile"`
	// NeedClientAuth refuses clients without a certificate signed by CAFile.
	NeedClientAuth bool `yaml:"needClientAuth"`
}

// tlsSchemes maps each TLS connector scheme to the protocol it carries.
var tlsSchemes = map[string]string{"ssl": "stomp", "stomp+ssl": "stomp", "amqp+ssl": "amqp", "mqtt+ssl": "mqtt"}

// plainScheme is the protocol of a connector scheme and whether it is TLS.
func plainScheme(scheme string) (string, bool) {
	if p, ok := tlsSchemes[scheme]; ok {
		return p, true
	}
	return scheme, false
}

// validateSecurity checks users, authorizationEntries and sslContext,
// naming the first bad field. Files are read at start-up, not here.
func (c *Config) validateSecurity() error {
	names := map[string]bool{}
	for i, u := range c.Users {
		field := fmt.Sprintf("config: users[%d]", i)
		switch {
		case u.Username == "":
			return fmt.Errorf("%s.username: must not be empty", field)
		case names[u.Username]:
			return fmt.Errorf("%s.username: duplicate user %q", field, u.Username)
		case u.Password != "" && u.PasswordHash != "":
			return fmt.Errorf("%s: password and passwordHash: give one, not both", field)
		case u.PasswordHash != "":
			if err := auth.CheckHash(u.PasswordHash); err != nil {
				return fmt.Errorf("%s.passwordHash: %w", field, err)
			}
		}
		names[u.Username] = true
		for j, g := range u.Groups {
			if g == "" || strings.ContainsAny(g, ", ") {
				return fmt.Errorf("%s.groups[%d]: %q is not a group name", field, j, g)
			}
		}
	}
	for i, e := range c.AuthorizationEntries {
		field := fmt.Sprintf("config: authorizationEntries[%d]", i)
		p := e.Queue
		if (e.Queue == "") == (e.Topic == "") {
			return fmt.Errorf("%s: give exactly one of queue and topic", field)
		}
		name := "queue"
		if p == "" {
			p, name = e.Topic, "topic"
		}
		if err := auth.CheckPattern(p); err != nil {
			return fmt.Errorf("%s.%s: %w", field, name, err)
		}
		if len(e.Read)+len(e.Write)+len(e.Admin) == 0 {
			return fmt.Errorf("%s: grants nothing (set read, write or admin)", field)
		}
	}
	for i, tc := range c.TransportConnectors {
		scheme, _, _, err := parseConnectorURI(tc.URI)
		if err != nil {
			continue // reported by Validate
		}
		_, tlsScheme := tlsSchemes[scheme]
		if ws, ok := webSocketSchemes[scheme]; ok && ws.tls {
			tlsScheme = true
		}
		if tlsScheme {
			if c.SSLContext == nil {
				return fmt.Errorf("config: transportConnectors[%d].uri: %s:// needs an sslContext", i, scheme)
			}
		}
	}
	if sc := c.SSLContext; sc != nil {
		if sc.CertFile == "" {
			return errors.New("config: sslContext.certFile: must not be empty")
		}
		if sc.KeyFile == "" {
			return errors.New("config: sslContext.keyFile: must not be empty")
		}
		if sc.NeedClientAuth && sc.CAFile == "" {
			return errors.New("config: sslContext.caFile: needClientAuth needs the CA that signs client certificates")
		}
	}
	return nil
}

// tlsConfigs loads sc's files: the listeners' configuration and the one
// network bridges dial with (the same certificate, presented when the
// remote asks for one; caFile as the roots they trust). Each error names
// the file at fault.
func (sc *SSLContext) tlsConfigs() (server, client *tls.Config, err error) {
	certPEM, err := os.ReadFile(sc.CertFile)
	if err != nil {
		return nil, nil, fmt.Errorf("sslContext.certFile: %w", err)
	}
	if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("sslContext.certFile %s: no PEM certificate in it", sc.CertFile)
	}
	keyPEM, err := os.ReadFile(sc.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("sslContext.keyFile: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("sslContext.keyFile %s (with certFile %s): %w", sc.KeyFile, sc.CertFile, err)
	}
	// Refuse what no client would accept: starting would only move the
	// error to every connection.
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, nil, fmt.Errorf("sslContext.certFile %s: %w", sc.CertFile, err)
	}
	if now := time.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return nil, nil, fmt.Errorf("sslContext.certFile %s: certificate valid only from %s to %s",
			sc.CertFile, leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	server = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	client = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if sc.CAFile != "" {
		caPEM, err := os.ReadFile(sc.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("sslContext.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, nil, fmt.Errorf("sslContext.caFile %s: no PEM certificate in it", sc.CAFile)
		}
		server.ClientCAs, client.RootCAs = pool, pool
		server.ClientAuth = tls.VerifyClientCertIfGiven
	}
	if sc.NeedClientAuth {
		server.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return server, client, nil
}

// setUpSecurity builds the authenticator and the TLS configurations before
// anything listens, so that a bad certificate stops the start, and says
// loudly when clients need no credentials.
func (s *Server) setUpSecurity() error {
	cfg := &s.cfg
	if sc := cfg.SSLContext; sc != nil {
		var err error
		if s.tlsServer, s.tlsClient, err = sc.tlsConfigs(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	if len(cfg.Users) == 0 {
		s.log.Warn("SECURITY WARNING: no users are configured: ANY client may connect WITHOUT credentials " +
			"(anonymous access). Configure users: (and authorizationEntries:) before exposing this broker.")
		if len(cfg.AuthorizationEntries) > 0 {
			s.log.Warn("authorizationEntries apply to anonymous clients as members of the group " + auth.AnonymousGroup + " (and everyone)")
		}
		return nil
	}
	users := s.authUsers()
	s.authn = auth.NewAuthenticator(users, cfg.authFailureDelay, s.log)
	if len(cfg.AuthorizationEntries) == 0 {
		s.log.Info("authentication required; no authorizationEntries: every user may use every destination", "users", len(users))
	} else {
		s.log.Info("authentication and authorization enabled", "users", len(users), "authorizationEntries", len(cfg.AuthorizationEntries))
	}
	return nil
}

func (s *Server) authUsers() []auth.User {
	var users []auth.User
	for _, u := range s.cfg.Users {
		users = append(users, auth.User{Name: u.Username, Password: u.Password, PasswordHash: u.PasswordHash, Groups: u.Groups})
	}
	return users
}

// accessControl is the authorization every connector's sessions get on b,
// nil when no authorizationEntries are configured.
func (s *Server) accessControl(b *broker.Broker) *broker.AccessControl {
	if len(s.cfg.AuthorizationEntries) == 0 {
		return nil
	}
	var entries []auth.Entry
	for _, e := range s.cfg.AuthorizationEntries {
		ae := auth.Entry{Kind: broker.Queue, Pattern: e.Queue, Read: e.Read, Write: e.Write, Admin: e.Admin}
		if e.Topic != "" {
			ae.Kind, ae.Pattern = broker.Topic, e.Topic
		}
		entries = append(entries, ae)
	}
	return broker.NewAccessControl(b, auth.NewAuthorizer(entries, s.authUsers()))
}

// authenticator is what connectors check credentials with (nil: anyone).
func (s *Server) authenticator() func(user, pass string) error {
	if s.authn == nil {
		return nil
	}
	return s.authn.Authenticate
}

// TLSConfig is the listeners' TLS configuration built from sslContext (nil
// without one), for other listener kinds (WebSocket's wss://) to share. Do
// not modify it; Clone it.
func (s *Server) TLSConfig() *tls.Config { return s.tlsServer }
