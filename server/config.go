package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tethermq/tether/server/auth"
	"github.com/tethermq/tether/server/network"
	"gopkg.in/yaml.v3"
)

// Config is a broker's configuration. Field names follow activemq.xml's
// concepts so that an ActiveMQ user can read a refbroker config at a glance.
type Config struct {
	BrokerName          string      `yaml:"brokerName"`
	DataDirectory       string      `yaml:"dataDirectory"`
	TransportConnectors []Connector `yaml:"transportConnectors"`
	// NetworkConnectors bridge this broker to others (activemq.xml's
	// <networkConnectors>); each entry takes ActiveMQ's attribute names
	// and defaults (network.Options).
	NetworkConnectors []network.Options `yaml:"networkConnectors"`
	// Users may connect; none configured means anonymous access (as
	// ActiveMQ's simpleAuthenticationPlugin absent). See security.go.
	Users []User `yaml:"users"`
	// AuthorizationEntries grant read/write/admin per destination pattern
	// to groups (ActiveMQ's authorizationEntries); none means no checks.
	AuthorizationEntries []AuthorizationEntry `yaml:"authorizationEntries"`
	// SSLContext is the certificate of every TLS connector (ssl://,
	// stomp+ssl://, amqp+ssl://, mqtt+ssl://) and of network bridges.
	SSLContext *SSLContext `yaml:"sslContext"`
	// MemoryLimit bounds message bytes held in memory: non-persistent
	// messages (their producers wait at the limit) and the window of
	// persistent messages kept in memory (70% of it); persistent backlogs
	// beyond that stay on disk.
	MemoryLimit ByteSize `yaml:"memoryLimit"`
	// StoreUsage bounds the store's disk use (activemq.xml's storeUsage).
	// Default: 100 GiB or 90% of the space the data directory's filesystem
	// has (free plus what the store already uses), whichever is smaller.
	StoreUsage ByteSize `yaml:"storeUsage"`
	// SendFailIfNoSpaceAfterTimeout: a persistent send waiting for store
	// space fails after this long; unset, it waits for space.
	SendFailIfNoSpaceAfterTimeout Duration `yaml:"sendFailIfNoSpaceAfterTimeout"`
	// JournalMaxFileLength is the size of each journal file (KahaDB's
	// name; default 8 MiB). Space is reclaimed a file at a time.
	JournalMaxFileLength ByteSize `yaml:"journalMaxFileLength"`
	// MaxRedeliveries before a message goes to ActiveMQ.DLQ (default 6).
	MaxRedeliveries int `yaml:"maxRedeliveries"`
	// DuplicateWindow is how many _AMQ_DUPL_ID ids each destination keeps.
	DuplicateWindow               int      `yaml:"duplicateWindow"`
	ConsumersBeforeDispatchStarts int      `yaml:"consumersBeforeDispatchStarts"`
	TimeBeforeDispatchStarts      Duration `yaml:"timeBeforeDispatchStarts"`
	// LockKeepAlivePeriod is how often the master re-checks its lock.
	LockKeepAlivePeriod Duration `yaml:"lockKeepAlivePeriod"`
	// LockAcquireSleepInterval > 0 polls for the lock instead of blocking.
	LockAcquireSleepInterval Duration `yaml:"lockAcquireSleepInterval"`
	// PersistenceAdapter, when set, replaces the file store (jdbc:
	// PostgreSQL, with the database lease deciding the master).
	PersistenceAdapter *PersistenceAdapter `yaml:"persistenceAdapter"`
	// AdminAddress serves /healthz (and the admin API) on both roles;
	// empty disables it.
	AdminAddress string `yaml:"adminAddress"`

	// authFailureDelay overrides auth.DefaultFailureDelay (tests).
	authFailureDelay time.Duration
}

// Connector is one transport connector: a name and a URI such as
// stomp://0.0.0.0:61613?maximumConnections=1000.
type Connector struct {
	Name string `yaml:"name"`
	URI  string `yaml:"uri"`
	// DiscoveryURI (multicast://default[?group=...]) announces this
	// connector to network connectors that discover brokers by multicast.
	DiscoveryURI string `yaml:"discoveryUri"`
}

// User is an account for connector authentication: a clear password or a
// bcrypt hash, and the groups authorizationEntries grant to.
type User struct {
	Username     string      `yaml:"username"`
	Password     string      `yaml:"password"`
	PasswordHash string      `yaml:"passwordHash"`
	Groups       auth.Groups `yaml:"groups"`
}

// Default returns the embedded default: broker "localhost", data in
// ./data, STOMP on 61613 and 61616, AMQP on 5672, MQTT on 1883, STOMP (and
// MQTT) over WebSocket on 61614, the admin HTTP port on 127.0.0.1:8161,
// anonymous access.
func Default() Config {
	return Config{
		BrokerName:    "localhost",
		DataDirectory: "data",
		TransportConnectors: []Connector{
			{Name: "stomp", URI: "stomp://0.0.0.0:61613"},
			{Name: "native", URI: "tcp://0.0.0.0:61616"},
			{Name: "amqp", URI: "amqp://0.0.0.0:5672"},
			{Name: "mqtt", URI: "mqtt://0.0.0.0:1883"},
			{Name: "ws", URI: "ws://0.0.0.0:61614"},
		},
		// The admin port is a remote-control API: loopback unless asked.
		AdminAddress: "127.0.0.1:8161",
	}
}

// LoadConfig reads a YAML config file. Unknown fields and bad values are
// errors naming the field.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(data)
}

// ParseConfig parses YAML config text over the embedded defaults for the
// fields it does not set (the connector list is replaced, not merged: only
// the connectors listed are opened).
func ParseConfig(data []byte) (Config, error) {
	cfg := Default()
	cfg.TransportConnectors = nil
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if cfg.TransportConnectors == nil {
		cfg.TransportConnectors = Default().TransportConnectors
	}
	return cfg, cfg.Validate()
}

// Validate checks the configuration and names the first bad field.
func (c *Config) Validate() error {
	if c.BrokerName == "" {
		return errors.New("config: brokerName: must not be empty")
	}
	if strings.ContainsAny(c.BrokerName, " ,\n\t") {
		return fmt.Errorf("config: brokerName %q: no spaces or commas", c.BrokerName)
	}
	if c.DataDirectory == "" {
		return errors.New("config: dataDirectory: must not be empty")
	}
	if len(c.TransportConnectors) == 0 {
		return errors.New("config: transportConnectors: at least one is needed")
	}
	names := map[string]bool{}
	for i, tc := range c.TransportConnectors {
		field := fmt.Sprintf("config: transportConnectors[%d]", i)
		if tc.Name == "" {
			return fmt.Errorf("%s.name: must not be empty", field)
		}
		if names[tc.Name] {
			return fmt.Errorf("%s.name: duplicate connector name %q", field, tc.Name)
		}
		names[tc.Name] = true
		scheme, _, _, err := parseConnectorURI(tc.URI)
		if err != nil {
			return fmt.Errorf("%s.uri: %w", field, err)
		}
		if tc.DiscoveryURI != "" {
			if scheme != "tcp" && scheme != "stomp" && scheme != "ssl" && scheme != "stomp+ssl" {
				return fmt.Errorf("%s.discoveryUri: only STOMP connectors (tcp, stomp, ssl, stomp+ssl) can be announced (bridges speak STOMP)", field)
			}
			if err := network.CheckDiscoveryURI(tc.DiscoveryURI); err != nil {
				return fmt.Errorf("%s.discoveryUri: %w", field, err)
			}
		}
	}
	ncNames := map[string]bool{}
	for i := range c.NetworkConnectors {
		nc := &c.NetworkConnectors[i]
		if err := nc.Validate(); err != nil {
			return fmt.Errorf("config: networkConnectors[%d]: %w", i, err)
		}
		if ncNames[nc.Name] {
			return fmt.Errorf("config: networkConnectors[%d].name: duplicate name %q (give each connector its own)", i, nc.Name)
		}
		ncNames[nc.Name] = true
	}
	if err := c.validateSecurity(); err != nil {
		return err
	}
	if c.MemoryLimit < 0 {
		return errors.New("config: memoryLimit: must not be negative")
	}
	if c.JournalMaxFileLength != 0 && (c.JournalMaxFileLength < 1<<20 || c.JournalMaxFileLength > 1<<30 || c.JournalMaxFileLength%4096 != 0) {
		return fmt.Errorf("config: journalMaxFileLength: %d: want a multiple of 4 KiB between 1 MiB and 1 GiB", c.JournalMaxFileLength)
	}
	if c.StoreUsage != 0 && c.JournalMaxFileLength != 0 && c.StoreUsage < 4*c.JournalMaxFileLength {
		return fmt.Errorf("config: storeUsage: %d bytes is less than four journal files (%d bytes each)", c.StoreUsage, c.JournalMaxFileLength)
	}
	if c.MaxRedeliveries < -1 {
		return errors.New("config: maxRedeliveries: -1 (never dead-letter) or more")
	}
	if c.DuplicateWindow < 0 {
		return errors.New("config: duplicateWindow: must not be negative")
	}
	if c.LockKeepAlivePeriod < 0 || c.LockAcquireSleepInterval < 0 {
		return errors.New("config: lock periods must not be negative")
	}
	return c.validatePersistence()
}

// parseConnectorURI splits scheme://host:port?query, checking the scheme.
func parseConnectorURI(raw string) (scheme, addr string, q url.Values, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", nil, fmt.Errorf("bad URI %q: %w", raw, err)
	}
	switch u.Scheme {
	case "stomp", "tcp", "amqp", "mqtt", "ssl", "stomp+ssl", "amqp+ssl", "mqtt+ssl":
	default:
		if _, ws := webSocketSchemes[u.Scheme]; !ws {
			return "", "", nil, fmt.Errorf("URI %q: unsupported scheme %q (want stomp, tcp, amqp, mqtt, their TLS forms ssl, stomp+ssl, amqp+ssl, mqtt+ssl, or ws, wss, stomp+ws, stomp+wss, mqtt+ws, mqtt+wss)", raw, u.Scheme)
		}
	}
	if u.Host == "" || u.Port() == "" {
		return "", "", nil, fmt.Errorf("URI %q: want scheme://host:port", raw)
	}
	if _, err := strconv.Atoi(u.Port()); err != nil {
		return "", "", nil, fmt.Errorf("URI %q: bad port", raw)
	}
	return u.Scheme, u.Host, u.Query(), nil
}

// ByteSize is a byte count written as 64MiB, 512kb, 1GB or a plain number.
type ByteSize int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = ByteSize(v)
	return nil
}

// ParseByteSize parses sizes like ActiveMQ's ("64 mb", "1 gb") and IEC ones.
func ParseByteSize(s string) (int64, error) {
	t := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q (want e.g. 64MiB)", s)
	}
	return n * mult, nil
}

// Duration is a time.Duration written as 1s, 500ms, or plain milliseconds
// (ActiveMQ's attributes are milliseconds).
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if err := d.Set(n.Value); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// Set parses 1s, 500ms or plain milliseconds.
func (d *Duration) Set(s string) error {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 {
		*d = Duration(time.Duration(ms) * time.Millisecond)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("bad duration %q (want e.g. 1s or milliseconds)", s)
	}
	*d = Duration(v)
	return nil
}
