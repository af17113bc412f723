package server

import (
	"testing"
	"time"
)

func TestJDBCConfigParsing(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
persistenceAdapter:
  jdbc:
    url: postgres://activemq:activemq@127.0.0.1:5432/activemq?sslmode=disable
    lockKeepAlivePeriod: 1s
    lockAcquireSleepInterval: 1s
`))
	if err != nil {
		t.Fatal(err)
	}
	j := cfg.jdbc()
	if j == nil || j.URL != "postgres://activemq:activemq@127.0.0.1:5432/activemq?sslmode=disable" ||
		time.Duration(j.LockKeepAlivePeriod) != time.Second || time.Duration(j.LockAcquireSleepInterval) != time.Second {
		t.Fatalf("parsed %+v", cfg.PersistenceAdapter)
	}
	if d := Default(); d.jdbc() != nil {
		t.Fatal("the default uses the file store")
	}
	bad := map[string]string{
		"persistenceAdapter: {}":                                          "set jdbc",
		"persistenceAdapter: {jdbc: {}}":                                  "persistenceAdapter.jdbc.url: must not be empty",
		"persistenceAdapter: {jdbc: {url: 'postgres://a:secret@%zz'}}":    "persistenceAdapter.jdbc.url: not a PostgreSQL URL",
		"persistenceAdapter: {jdbc: {url: x, lockKeepAlivePeriod: soon}}": "bad duration",
		"persistenceAdapter: {kahaDB: {}}":                                "kahaDB",
	}
	for text, want := range bad {
		_, err := ParseConfig([]byte(text))
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want one naming %q", text, err, want)
		}
		if err != nil && contains(err.Error(), "secret") {
			t.Errorf("config %q: error shows the password: %v", text, err)
		}
	}
}
