package mqtt

import (
	"errors"
	"testing"

	"github.com/tethermq/tether/failover/session"
)

func TestTopicMapping(t *testing.T) {
	for name, want := range map[string]string{
		"a.b.c": "a/b/c", "a.*.c": "a/+/c", "a.>": "a/#", "a/b": "a.b", "x+y": "x*y",
	} {
		got, err := topicName(session.Destination{Kind: session.Topic, Name: name})
		if err != nil || got != want {
			t.Errorf("%s -> %q %v, want %q", name, got, err, want)
		}
		if back := destination(got); back.Name != name || back.Kind != session.Topic {
			t.Errorf("%s -> %s -> %v", name, got, back)
		}
	}
	if _, err := topicName(session.Destination{Kind: session.Queue, Name: "q"}); !errors.Is(err, session.ErrUnsupported) {
		t.Errorf("queue: %v", err)
	}
}

func TestMatches(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"a/+/c", "a/b/c", true},
		{"a/b/c", "a/b", false},
	}
	for _, tc := range cases {
		if got := matches(tc.filter, tc.topic); got != tc.want {
			t.Errorf("matches(%q, %q) = %v", tc.filter, tc.topic, got)
		}
	}
}

func TestOverlap(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "+/b", true},
		{"a/#", "a", true},
		{"a/#", "b/#", false},
		{"a", "a/b", false},
		{"a/+/c", "a/b/d", false},
		{"#", "x/y/z", true},
		{"a/+", "a/b/c", false},
	}
	for _, tc := range cases {
		if got := overlap(tc.a, tc.b); got != tc.want {
			t.Errorf("overlap(%q, %q) = %v", tc.a, tc.b, got)
		}
		if got := overlap(tc.b, tc.a); got != tc.want {
			t.Errorf("overlap(%q, %q) = %v (reversed)", tc.b, tc.a, got)
		}
	}
}

func TestCheckFilter(t *testing.T) {
	for _, f := range []string{"a/b", "a/+/c", "a/#", "#", "+"} {
		if err := checkFilter(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range []string{"a/b+", "a/#/c", "a#"} {
		if err := checkFilter(f); err == nil {
			t.Errorf("%s: accepted", f)
		}
	}
}
