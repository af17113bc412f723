package failover

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func hosts(s *Spec) []string {
	var out []string
	for _, u := range s.Brokers {
		out = append(out, u.String())
	}
	return out
}

func TestParseAccepts(t *testing.T) {
	def := DefaultOptions()
	tests := []struct {
		name    string
		uri     string
		kind    SpecKind
		brokers []string
		check   func(t *testing.T, o Options)
		str     string // expected String(), if set
	}{
		{
			name: "seed failover with options", kind: KindFailover,
			uri:     "failover:(tcp://amq1:61616,tcp://amq2:61616)?randomize=false&maxReconnectAttempts=0",
			brokers: []string{"tcp://amq1:61616", "tcp://amq2:61616"},
			check: func(t *testing.T, o Options) {
				if o.Randomize || o.MaxReconnectAttempts != 0 {
					t.Errorf("randomize=%v maxReconnectAttempts=%d", o.Randomize, o.MaxReconnectAttempts)
				}
				if o.InitialReconnectDelay != def.InitialReconnectDelay {
					t.Errorf("untouched option changed: %v", o.InitialReconnectDelay)
				}
			},
		},
		{
			name: "seed masterslave expands as ActiveMQ", kind: KindMasterSlave,
			uri:     "masterslave:(tcp://amq1:61616,tcp://amq2:61616)",
			brokers: []string{"tcp://amq1:61616", "tcp://amq2:61616"},
			str:     "failover:(tcp://amq1:61616,tcp://amq2:61616)?randomize=false&maxReconnectAttempts=0",
			check: func(t *testing.T, o Options) {
				if o.Randomize || o.MaxReconnectAttempts != 0 || o.StartupMaxReconnectAttempts != -1 {
					t.Errorf("got %+v", o)
				}
			},
		},
		{
			name: "failover without parentheses", kind: KindFailover,
			uri:     "failover:tcp://a:1,tcp://b:2",
			brokers: []string{"tcp://a:1", "tcp://b:2"},
			check:   func(t *testing.T, o Options) { expectDefaults(t, o) },
		},
		{
			name: "query without parentheses belongs to the last URI", kind: KindFailover,
			uri:     "failover:tcp://a:1,tcp://b:2?keepAlive=true",
			brokers: []string{"tcp://a:1", "tcp://b:2?keepAlive=true"},
		},
		{
			name: "double slash and spaces", kind: KindFailover,
			uri:     " failover://( tcp://a:1 , tcp://b:2 )?timeout=3000 ",
			brokers: []string{"tcp://a:1", "tcp://b:2"},
			check: func(t *testing.T, o Options) {
				if o.Timeout != 3*time.Second {
					t.Errorf("timeout %v", o.Timeout)
				}
			},
		},
		{
			name: "component options kept", kind: KindFailover,
			uri:     "failover:(tcp://a:1?keepAlive=false,stomp://b:2)",
			brokers: []string{"tcp://a:1?keepAlive=false", "stomp://b:2"},
		},
		{
			name: "nested options appended to every component, nested wins", kind: KindFailover,
			uri:     "failover:(tcp://a:1?keepAlive=false&host=x,tcp://b:2)?nested.keepAlive=true&randomize=false",
			brokers: []string{"tcp://a:1?host=x&keepAlive=true", "tcp://b:2?keepAlive=true"},
			check: func(t *testing.T, o Options) {
				if o.Randomize {
					t.Error("randomize not applied")
				}
			},
		},
		{
			name: "URL-decoded values", kind: KindFailover,
			uri:     "failover:(tcp://a:1,tcp://b:2)?priorityBackup=true&priorityURIs=tcp%3A%2F%2Fb%3A2%2Ctcp%3A%2F%2Fa%3A1&updateURIsURL=file%3A%2Ftmp%2Fbrokers%20list.txt",
			brokers: []string{"tcp://a:1", "tcp://b:2"},
			check: func(t *testing.T, o Options) {
				if !o.PriorityBackup || len(o.PriorityURIs) != 2 || o.PriorityURIs[0].Host != "b:2" || o.PriorityURIs[1].Host != "a:1" {
					t.Errorf("priority %v %v", o.PriorityBackup, o.PriorityURIs)
				}
				if o.UpdateURIsURL != "file:/tmp/brokers list.txt" {
					t.Errorf("updateURIsURL %q", o.UpdateURIsURL)
				}
			},
		},
		{
			name: "every option", kind: KindFailover,
			uri: "failover:(tcp://a:1)?initialReconnectDelay=100&maxReconnectDelay=5000&useExponentialBackOff=false" +
				"&reconnectDelayExponent=1.5&maxReconnectAttempts=3&startupMaxReconnectAttempts=2&warnAfterReconnectAttempts=0" +
				"&timeout=250&randomize=FALSE&backup=true&backupPoolSize=2&priorityBackup=true&priorityURIs=tcp://a:1" +
				"&trackMessages=true&maxCacheSize=1024&updateURIsSupported=false&updateURIsURL=/etc/brokers" +
				"&reconnectJitter=0.3&connectTimeout=1500",
			brokers: []string{"tcp://a:1"},
			check: func(t *testing.T, o Options) {
				want := Options{
					InitialReconnectDelay: 100 * time.Millisecond, MaxReconnectDelay: 5 * time.Second,
					ReconnectDelayExponent: 1.5, MaxReconnectAttempts: 3, StartupMaxReconnectAttempts: 2,
					Timeout: 250 * time.Millisecond, Backup: true, BackupPoolSize: 2, PriorityBackup: true,
					TrackMessages: true, MaxCacheSize: 1024, UpdateURIsURL: "/etc/brokers",
					ReconnectJitter: 0.3, ConnectTimeout: 1500 * time.Millisecond,
				}
				o.PriorityURIs = nil
				if !reflect.DeepEqual(o, want) {
					t.Errorf("got  %+v\nwant %+v", o, want)
				}
			},
		},
		{
			name: "reconnectJitter false", kind: KindFailover,
			uri: "failover:(tcp://a:1)?reconnectJitter=false", brokers: []string{"tcp://a:1"},
			check: func(t *testing.T, o Options) {
				if o.ReconnectJitter != 0 {
					t.Errorf("jitter %v", o.ReconnectJitter)
				}
			},
		},
		{
			name: "plain tcp is a one-element list", kind: KindSingle,
			uri: "tcp://h:61616", brokers: []string{"tcp://h:61616"}, str: "tcp://h:61616",
			check: func(t *testing.T, o Options) { expectDefaults(t, o) },
		},
		{
			name: "plain stomp with options", kind: KindSingle,
			uri: "stomp://h:61613?heartBeat=1000,1000", brokers: []string{"stomp://h:61613?heartBeat=1000,1000"},
		},
		{
			name: "duplicates removed", kind: KindFailover,
			uri: "failover:(tcp://a:1,tcp://a:1,tcp://b:2)", brokers: []string{"tcp://a:1", "tcp://b:2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.uri)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s.Kind != tc.kind {
				t.Errorf("kind %v, want %v", s.Kind, tc.kind)
			}
			if got := strings.Join(hosts(s), " "); got != strings.Join(tc.brokers, " ") {
				t.Errorf("brokers %q, want %q", got, strings.Join(tc.brokers, " "))
			}
			if tc.check != nil {
				tc.check(t, s.Options)
			}
			if tc.str != "" && s.String() != tc.str {
				t.Errorf("String() = %q, want %q", s.String(), tc.str)
			}
		})
	}
}

func expectDefaults(t *testing.T, o Options) {
	t.Helper()
	want := Options{
		InitialReconnectDelay: 10 * time.Millisecond, MaxReconnectDelay: 30000 * time.Millisecond,
		UseExponentialBackOff: true, ReconnectDelayExponent: 2.0, MaxReconnectAttempts: -1,
		StartupMaxReconnectAttempts: -1, WarnAfterReconnectAttempts: 10, Timeout: -time.Millisecond,
		Randomize: true, Backup: false, BackupPoolSize: 1, PriorityBackup: false, TrackMessages: false,
		MaxCacheSize: 131072, UpdateURIsSupported: true, ReconnectJitter: 0.2, ConnectTimeout: 10 * time.Second,
	}
	if o.PriorityURIs != nil || o.UpdateURIsURL != "" {
		t.Errorf("priorityURIs %v updateURIsURL %q", o.PriorityURIs, o.UpdateURIsURL)
	}
	o.PriorityURIs = nil
	if !reflect.DeepEqual(o, want) {
		t.Errorf("defaults\n got %+v\nwant %+v", o, want)
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name   string
		uri    string
		option string // the option the error must name, if any
		want   string // a fragment the message must contain
	}{
		{"unknown option", "failover:(tcp://a:1)?randomise=false", "randomise", "unknown failover option"},
		{"case typo suggests the name", "failover:(tcp://a:1)?Randomize=false", "Randomize", `did you mean "randomize"`},
		{"backOffMultiplier as in ActiveMQ", "failover:(tcp://a:1)?backOffMultiplier=2", "backOffMultiplier", "reconnectDelayExponent"},
		{"OpenWire-only option", "failover:(tcp://a:1)?trackTransactionProducers=true", "trackTransactionProducers", "OpenWire"},
		{"jms options", "failover:(tcp://a:1)?jms.prefetchPolicy.all=1", "jms.prefetchPolicy.all", "JMS connection factory"},
		{"bad boolean", "failover:(tcp://a:1)?randomize=yes", "randomize", "not true or false"},
		{"bad number", "failover:(tcp://a:1)?maxReconnectDelay=3s", "maxReconnectDelay", "milliseconds"},
		{"below minimum", "failover:(tcp://a:1)?maxReconnectAttempts=-2", "maxReconnectAttempts", "below the minimum"},
		{"jitter out of range", "failover:(tcp://a:1)?reconnectJitter=2", "reconnectJitter", "factor between 0 and 1"},
		{"option without value", "failover:(tcp://a:1)?randomize", "randomize", "needs a value"},
		{"option given twice", "failover:(tcp://a:1)?timeout=1&timeout=2", "timeout", "given twice"},
		{"bad encoding", "failover:(tcp://a:1)?updateURIsURL=%zz", "updateURIsURL", "URL encoding"},
		{"max below initial", "failover:(tcp://a:1)?initialReconnectDelay=500&maxReconnectDelay=100", "", "below initialReconnectDelay"},
		{"unbalanced", "failover:(tcp://a:1,tcp://b:2", "", "unbalanced"},
		{"junk after list", "failover:(tcp://a:1)x", "", "after the closing parenthesis"},
		{"empty list", "failover:()", "", "no broker URIs"},
		{"no scheme in component", "failover:(a:1)", "", "no host"},
		{"nested composite", "failover:(failover:(tcp://a:1))", "", "cannot be nested"},
		{"failover option without parentheses", "failover:tcp://a:1,tcp://b:2?randomize=false", "randomize", "write failover:(uri1,uri2)?options"},
		{"masterslave needs two", "masterslave:(tcp://a:1)", "", "at least 2 URIs"},
		{"masterslave takes no options", "masterslave:(tcp://a:1,tcp://b:2)?randomize=true", "", "takes no options"},
		{"static: is a network connector URI", "static:(tcp://a:1)", "", "network connectors"},
		{"multicast: is a network connector URI", "multicast://default", "", "network connectors"},
		{"no scheme at all", "localhost", "", "no scheme"},
		{"bad priorityURIs", "failover:(tcp://a:1)?priorityURIs=,", "priorityURIs", "empty list"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.uri)
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			if !errors.Is(err, ErrInvalidURI) {
				t.Errorf("error %v does not match ErrInvalidURI", err)
			}
			var ue *URIError
			if !errors.As(err, &ue) {
				t.Fatalf("error %T is not a *URIError", err)
			}
			if ue.Option != tc.option {
				t.Errorf("Option = %q, want %q", ue.Option, tc.option)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if tc.option != "" && !strings.Contains(err.Error(), tc.option) {
				t.Errorf("error %q does not name %q", err, tc.option)
			}
		})
	}
}

func TestPasswordsAreNotShown(t *testing.T) {
	s := mustParse("failover:(tcp://app:s3cret@a:1,tcp://b:2)")
	if strings.Contains(s.String(), "s3cret") || !strings.Contains(s.String(), "tcp://app:xxxxx@a:1") {
		t.Errorf("String() = %q", s.String())
	}
	_, err := Parse("failover:(tcp://app:s3cret@a:1)?bogus=1")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
}
