package failover

import (
	"strings"
	"testing"
	"time"
)

func TestSetDefaultLeavesURIOptionsAlone(t *testing.T) {
	spec := mustParse("failover:(tcp://a:1,tcp://b:1)?maxReconnectAttempts=3")
	if err := spec.SetDefault("maxReconnectAttempts", "0"); err != nil {
		t.Fatal(err)
	}
	if err := spec.SetDefault("initialReconnectDelay", "250"); err != nil {
		t.Fatal(err)
	}
	if spec.Options.MaxReconnectAttempts != 3 {
		t.Errorf("maxReconnectAttempts %d: the URI's 3 should win", spec.Options.MaxReconnectAttempts)
	}
	if spec.Options.InitialReconnectDelay != 250*time.Millisecond {
		t.Errorf("initialReconnectDelay %v: the URI leaves it out, code should set it", spec.Options.InitialReconnectDelay)
	}
	ms := mustParse("masterslave:(tcp://a:1,tcp://b:1)")
	if err := ms.SetDefault("randomize", "true"); err != nil {
		t.Fatal(err)
	}
	if ms.Options.Randomize || !ms.SetInURI("randomize") {
		t.Error("masterslave:'s expansion should win over code")
	}
	if err := spec.SetDefault("maxReconnectAttempts", "-9"); err == nil || !strings.Contains(err.Error(), "maxReconnectAttempts") {
		t.Errorf("bad value: %v", err)
	}
	if err := spec.SetDefault("nosuch", "1"); err == nil {
		t.Error("unknown option accepted")
	}
	if err := spec.SetDefault("maxReconnectDelay", "1"); err != nil {
		t.Fatal(err)
	}
	if err := spec.Check(); err == nil {
		t.Error("maxReconnectDelay below initialReconnectDelay passed Check")
	}
}
