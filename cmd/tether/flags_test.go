package main

import (
	"strings"
	"testing"
)

// Bad command lines exit with status 2 and say what is wrong, before any
// connection is attempted (the URI points nowhere).
func TestBadFlags(t *testing.T) {
	const nowhere = "stomp://127.0.0.1:1"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: tether COMMAND"},
		{[]string{"publish"}, `unknown command "publish"`},
		{[]string{"send", "--uri", nowhere, "--bogus", "q", "b"}, "flag provided but not defined: -bogus"},
		{[]string{"send", "--uri", nowhere}, "missing DEST"},
		{[]string{"send", "--uri", nowhere, "queue://q"}, "missing BODY"},
		{[]string{"send", "--uri", nowhere, "--count", "0", "q", "b"}, "--count 0"},
		{[]string{"send", "--uri", nowhere, "--persistent", "--confirm=false", "q", "b"}, "persistent sends are always confirmed"},
		{[]string{"send", "--uri", nowhere, "bucket://q", "b"}, "unknown kind"},
		{[]string{"send", "--uri", "failover:(stomp://127.0.0.1:1)?bogusOption=1", "q", "b"}, "bogusOption"},
		{[]string{"receive", "--uri", nowhere, "--ack", "sometimes", "q"}, `"sometimes": want auto, client or individual`},
		{[]string{"receive", "--uri", nowhere, "--output", "xml", "q"}, `--output "xml"`},
		{[]string{"receive", "--uri", nowhere}, "want exactly one DEST"},
		{[]string{"bench", "--uri", nowhere, "--inflight", "8"}, "needs confirmed sends"},
		{[]string{"bench", "--uri", nowhere, "--count", "10", "--duration", "1s"}, "not both"},
		{[]string{"bench", "--uri", nowhere, "--size", "lots"}, `--size: "lots"`},
		{[]string{"bench", "--uri", nowhere, "--producers", "0"}, "--producers 0"},
		{[]string{"bench", "--uri", nowhere, "--duration", "0s"}, "--duration 0s"},
	} {
		o := tether(t, "", tc.args...)
		if o.code != exitUsage || !strings.Contains(o.stderr, tc.want) {
			t.Errorf("tether %s: exit %d, stderr %q; want exit 2 mentioning %q", strings.Join(tc.args, " "), o.code, o.stderr, tc.want)
		}
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"send", "-h"}, {"bench", "--help"}} {
		if o := tether(t, "", args...); o.code != exitOK || !strings.Contains(o.stdout+o.stderr, "usage: tether") {
			t.Errorf("tether %s: exit %d, output %q", strings.Join(args, " "), o.code, o.stdout+o.stderr)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "1024": 1024, "1KiB": 1024, "2k": 2048, "1MiB": 1 << 20, "3kb": 3072, "8b": 8} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5k", "65MiB", "x"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}
