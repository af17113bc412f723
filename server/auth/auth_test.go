package auth

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tethermq/tether/server/internal/broker"
	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

func q(name string) broker.Destination  { return broker.Destination{Kind: broker.Queue, Name: name} }
func tp(name string) broker.Destination { return broker.Destination{Kind: broker.Topic, Name: name} }

func TestCovers(t *testing.T) {
	for _, c := range []struct {
		entry, name string
		want        bool
	}{
		{"orders", "orders", true},
		{"orders", "orders.eu", false},
		{"orders.>", "orders.eu", true},
		{"orders.>", "orders.eu.fr", true},
		{"orders.>", "orders", true}, // '>' is zero or more, as the broker routes
		{"orders.>", "ordersx", false},
		{"orders.*", "orders.eu", true},
		{"orders.*", "orders.eu.fr", false},
		{"orders.*.fr", "orders.eu.fr", true},
		{">", "anything.at.all", true},
		// subscription patterns: granted only when fully covered
		{"orders.>", "orders.*", true},
		{"orders.>", "orders.>", true},
		{"orders.*", "orders.*", true},
		{"orders.*", "orders.>", false},
		{"orders.eu", "orders.*", false},
		{"orders.eu.>", "orders.>", false},
		{"orders.eu.>", ">", false},
	} {
		e, n := split(c.entry), split(c.name)
		if got := covers(e, n); got != c.want {
			t.Errorf("covers(%q, %q) = %v, want %v", c.entry, c.name, got, c.want)
		}
	}
}

func split(s string) []string { return strings.Split(s, ".") }

func TestCheckPattern(t *testing.T) {
	for _, p := range []string{"a", "a.b", "a.*", "a.>", ">", "*.b.>"} {
		if err := CheckPattern(p); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
	for _, p := range []string{"", "a..b", "a.>.b", "a*", "a.b>", "."} {
		if err := CheckPattern(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
}

// The example: orders.> readable by consumers, writable by producers
// and admins, created by admins; advisories open to everyone.
func exampleAuthorizer() *Authorizer {
	users := []User{
		{Name: "alice", Groups: []string{"producers"}},
		{Name: "bob", Groups: []string{"consumers"}},
		{Name: "root", Groups: []string{"admins"}},
		{Name: "eve"},
	}
	return NewAuthorizer([]Entry{
		{Kind: broker.Queue, Pattern: "orders.>", Read: []string{"consumers"}, Write: []string{"producers", "admins"}, Admin: []string{"admins"}},
		{Kind: broker.Queue, Pattern: "orders.audit", Read: []string{"admins"}},
		{Kind: broker.Topic, Pattern: "ActiveMQ.Advisory.>", Read: []string{Everyone}, Write: []string{Everyone}, Admin: []string{Everyone}},
		{Kind: broker.Topic, Pattern: "prices.*", Read: []string{"*"}},
	}, users)
}

func TestAuthorizer(t *testing.T) {
	z := exampleAuthorizer()
	for _, c := range []struct {
		user string
		a    broker.Action
		d    broker.Destination
		want bool
	}{
		{"alice", broker.ActionWrite, q("orders.eu"), true},
		{"alice", broker.ActionRead, q("orders.eu"), false},
		{"alice", broker.ActionAdmin, q("orders.eu"), false},
		{"bob", broker.ActionRead, q("orders.eu"), true},
		{"bob", broker.ActionWrite, q("orders.eu"), false},
		{"root", broker.ActionWrite, q("orders.eu"), true},
		{"root", broker.ActionAdmin, q("orders.eu"), true},
		// additive: orders.audit is readable by admins and, through orders.>, consumers
		{"root", broker.ActionRead, q("orders.audit"), true},
		{"bob", broker.ActionRead, q("orders.audit"), true},
		// no matching entry denies
		{"root", broker.ActionWrite, q("billing"), false},
		// the kind matters
		{"bob", broker.ActionRead, tp("orders.eu"), false},
		{"eve", broker.ActionRead, tp("ActiveMQ.Advisory.Consumer.Queue.x"), true},
		{"", broker.ActionRead, tp("ActiveMQ.Advisory.Consumer.Queue.x"), true},
		{"eve", broker.ActionRead, tp("prices.eur"), true},
		{"eve", broker.ActionRead, tp("prices.>"), false}, // not fully covered by prices.*
		{"eve", broker.ActionRead, tp("prices.*"), true},
		{"eve", broker.ActionWrite, tp("prices.eur"), false},
		{"mallory", broker.ActionRead, q("orders.eu"), false},
		{"bob", broker.Action(9), q("orders.eu"), false},
	} {
		for range 2 { // the second answer comes from the cache
			if got := z.Allowed(c.user, c.a, c.d); got != c.want {
				t.Errorf("%s %s %s = %v, want %v", c.user, c.a, c.d, got, c.want)
			}
		}
	}
}

func TestAnonymousGroup(t *testing.T) {
	z := NewAuthorizer([]Entry{{Kind: broker.Queue, Pattern: ">", Read: []string{AnonymousGroup}}}, nil)
	if !z.Allowed("", broker.ActionRead, q("x")) || !z.Allowed("whoever", broker.ActionRead, q("x")) {
		t.Fatal("a user the broker does not know is anonymous")
	}
	if z.Allowed("", broker.ActionWrite, q("x")) {
		t.Fatal("anonymous may not write")
	}
}

func TestGroupsYAML(t *testing.T) {
	var v struct {
		A Groups `yaml:"a"`
		B Groups `yaml:"b"`
	}
	if err := yaml.Unmarshal([]byte("a: \"producers, admins\"\nb: [x, y]\n"), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.A) != 2 || v.A[1] != "admins" || len(v.B) != 2 || v.B[0] != "x" {
		t.Fatalf("got %q %q", v.A, v.B)
	}
	if err := yaml.Unmarshal([]byte("a: {x: 1}\n"), &v); err == nil {
		t.Fatal("a mapping is not a group list")
	}
}

func TestAuthenticate(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckHash(string(hash)); err != nil {
		t.Fatal(err)
	}
	if err := CheckHash("s3cret"); err == nil {
		t.Fatal("a clear password is not a hash")
	}
	const delay = 50 * time.Millisecond
	a := NewAuthenticator([]User{
		{Name: "clear", Password: "pw"},
		{Name: "hashed", PasswordHash: string(hash)},
	}, delay, slog.New(slog.DiscardHandler))
	defer a.Close()
	for range 2 { // the second hashed login is served from the verified cache
		if err := a.Authenticate("clear", "pw"); err != nil {
			t.Fatal(err)
		}
		if err := a.Authenticate("hashed", "s3cret"); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range [][2]string{{"clear", "PW"}, {"hashed", "wrong"}, {"hashed", ""}, {"nobody", "pw"}, {"", ""}} {
		start := time.Now()
		err := a.Authenticate(c[0], c[1])
		if !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("%q/%q: %v", c[0], c[1], err)
		}
		if took := time.Since(start); took < delay {
			t.Fatalf("%q refused after %v, before the failure delay", c[0], took)
		}
	}
	// a cached digest is the right password's only
	if err := a.Authenticate("hashed", "s3cret!"); err == nil {
		t.Fatal("wrong password accepted")
	}
	a.Close()
	start := time.Now()
	if err := a.Authenticate("clear", "x"); err == nil || time.Since(start) > time.Second {
		t.Fatal("a closed authenticator still refuses, without waiting")
	}
}
