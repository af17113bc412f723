package mqtt

import "testing"

func TestCheckTopicName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a/b/c", true}, {"/", true}, {"a//b", true}, {"$SYS/x", true}, {"dot.ted/x", true},
		{"", false}, {"a/+/c", false}, {"a/#", false}, {"a+b", false},
		{"a/*", true}, {"a/>", true}, {"a\x00b", false}, {"\xff", false},
	} {
		if err := checkTopicName(tc.name); (err == nil) != tc.ok {
			t.Errorf("checkTopicName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestCheckFilter(t *testing.T) {
	for _, tc := range []struct {
		filter string
		ok     bool
	}{
		{"a/b/c", true}, {"a/+/c", true}, {"+", true}, {"#", true}, {"a/#", true}, {"+/+/#", true},
		{"/+", true}, {"", false}, {"a/#/c", false}, {"a#", false}, {"a/b+", false}, {"++", false},
		{"a/*", true}, {"a\x00", false},
	} {
		if err := checkFilter(tc.filter); (err == nil) != tc.ok {
			t.Errorf("checkFilter(%q) = %v, want ok=%v", tc.filter, err, tc.ok)
		}
	}
}

func TestBrokerMapping(t *testing.T) {
	for mqtt, want := range map[string]string{
		"a/b/c":      "a.b.c",
		"a/+/c":      "a.*.c",
		"a/#":        "a.>",
		"#":          ">",
		"dot.ted/x":  "dot/ted.x",
		"/leading":   ".leading",
		"$SYS/stats": "$SYS.stats",
		"star/*/gt>": "star.+.gt#",
	} {
		if got := toBroker(mqtt); got != want {
			t.Errorf("toBroker(%q) = %q, want %q", mqtt, got, want)
		}
		if back := fromBroker(want); back != mqtt {
			t.Errorf("fromBroker(%q) = %q, want %q", want, back, mqtt)
		}
	}
}

func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b/c", "a/b/c", true},
		{"a/b/c", "a/b", false},
		{"a/+/c", "a/x/c", true},
		{"a/+/c", "a/x/y/c", false},
		{"a/+", "a/", true},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"#", "a/b", true},
		{"+/+", "a/b", true},
		{"+/+", "a", false},
		{"+", "a/b", false},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"a/b", "a/b/c", false},
	} {
		if got := matches(tc.filter, tc.topic); got != tc.want {
			t.Errorf("matches(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}
